#!/bin/bash
# files and non-test lines per package; largest files; largest functions
cd "${1:-.}"
echo "## per package (non-test files / lines; test files / lines)"
for d in $(find . -name '*.go' -not -path './.git/*' | xargs -n1 dirname | sort -u); do
  nt=$(ls $d/*.go | grep -v _test.go); t=$(ls $d/*_test.go 2>/dev/null)
  printf '%-22s %3d files %6d lines   tests %3d files %6d lines\n' "${d#./}" $(echo "$nt" | grep -c .) $(cat $nt | wc -l) $(echo "$t" | grep -c .) $( [ -n "$t" ] && cat $t | wc -l || echo 0)
done
echo "## largest non-test files"
find . -name '*.go' -not -name '*_test.go' -not -path './.git/*' | xargs wc -l | grep -v total | sort -rn | head -8
echo "## largest functions (non-test)"
for f in $(find . -name '*.go' -not -name '*_test.go' -not -path './.git/*'); do
  awk -v F="$f" '/^func /{name=$0; start=NR} /^}/{ if (name!="") { print NR-start+1, F": "substr(name,1,80); name="" } }' "$f"
done | sort -rn | head -8
