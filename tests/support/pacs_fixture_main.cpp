// heal_pacs_fixture WORKDIR STUDIES -- COMMAND [ARGS...]
// Starts Orthanc on loopback (tests/support/pacs_fixture.h), uploads STUDIES generated studies (2 images
// each, labels alternating 0/1, canary PatientName), writes WORKDIR/labels.csv (StudyInstanceUID,label),
// runs COMMAND with HEAL_TEST_DICOMWEB, HEAL_TEST_DIMSE, HEAL_TEST_LABELS and HEAL_TEST_CANARY set, stops
// Orthanc (also when COMMAND fails), removes WORKDIR and exits with COMMAND's status.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "support/pacs_fixture.h"

int main(int argc, char** argv) {
  if (argc < 5 || std::strcmp(argv[3], "--") != 0) {
    std::cerr << "usage: heal_pacs_fixture WORKDIR STUDIES -- COMMAND [ARGS...]\n";
    return 2;
  }
  const std::string work = argv[1];
  const int studies = std::atoi(argv[2]);
  try {
    std::filesystem::remove_all(work);  // a fresh PACS every run
    std::filesystem::create_directories(work);
    heal::testing::OrthancServer orthanc((std::filesystem::path(work) / "orthanc").string());
    const auto insts = heal::testing::make_studies(studies, 2);
    for (const auto& g : insts) orthanc.upload(g.bytes);
    const std::string labels = (std::filesystem::path(work) / "labels.csv").string();
    {
      std::ofstream f(labels);
      f << "StudyInstanceUID,label\n";
      for (std::size_t i = 0; i < insts.size(); i += 2) f << insts[i].study_uid << "," << insts[i].label << "\n";
    }
    std::cerr << "heal_pacs_fixture: Orthanc at " << orthanc.dicomweb_url() << " and " << orthanc.dimse_url()
              << " with " << insts.size() << " instances in " << studies << " studies\n";
    setenv("HEAL_TEST_DICOMWEB", orthanc.dicomweb_url().c_str(), 1);
    setenv("HEAL_TEST_DIMSE", orthanc.dimse_url().c_str(), 1);
    setenv("HEAL_TEST_LABELS", labels.c_str(), 1);
    setenv("HEAL_TEST_CANARY", heal::testing::kCanaryPatientName, 1);
    const pid_t pid = fork();
    if (pid == 0) {
      execvp(argv[4], argv + 4);
      std::perror("exec");
      _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    orthanc.stop();
    std::error_code ec;
    std::filesystem::remove_all(work, ec);  // the generated objects carry the canary identifiers
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
  } catch (const std::exception& e) {
    std::cerr << "heal_pacs_fixture: " << e.what() << "\n";
    return 1;
  }
}
