#!/usr/bin/env bash
# Seeds of fuzz_io_csv (synthetic; both COVID-CT metadata layouts, quoting, CRLF, a blank line).
set -euo pipefail
out=${1:-$(dirname "$0")/io_csv}
mkdir -p "$out"
printf 'File name,Patient ID,Age,Captions\na-p1-1.png,Patient 1,41,"Figure 1, a ""b""\nc"\na-p1-2.png,Patient 1,41,same\n' > "$out/covid.csv"
printf ',image name,patient id\r\n0,0.jpg,crawled_patient_0\r\n1,1%%0.jpg,crawled_patient_1\r\n\r\n2,1%%1.jpg,crawled_patient_1\r\n' > "$out/noncovid.csv"
