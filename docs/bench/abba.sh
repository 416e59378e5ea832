#!/bin/bash
# ABBA: each group of benchmarks runs before then after, the next group after then before.
# usage: benchab.sh BEFORE_DIR AFTER_DIR OUTDIR
export PATH=$PATH:/usr/local/go/bin
B=$1; A=$2; O=$3; mkdir -p $O
groups=(
 'DevDay'
 'FreshLsL|HugeDirLs|HugeDirLsL|HugeDirFind|UntarIntoAnUnlistedDir|CopyInsideTheMount'
 'TarOfServerHardLinks|LsLOfServerHardLinks|LsLOfServerHardLinksAlike|RandomRead4KiB|SequentialReadWithoutAMount|FourCopiesMemory|LsDuringALargeRead'
 'SequentialRead|SequentialWrite|ColdLsLR|UntarSmallFiles|WarmLsLR|ColdFind'
 'GitStatusCold|GitStatusWarm|GitStatusAfterRemount|FileMadeOnTheServerThenCat'
)
run() { # dir label group
  (cd $1 && SFTPMOUNT_BENCH_RTTS=0,50 go test -count=1 ./integration -run '^$' -bench "^Benchmark($3)\$/^rtt(0|50)ms\$/^sftpmount" -benchtime 1x -timeout 60m) >> $O/$2.txt 2>&1
  echo "$(date +%T) $2 done: $3" >> $O/progress
}
i=0
for g in "${groups[@]}"; do
  if (( i % 2 == 0 )); then run $B before "$g"; run $A after "$g"; else run $A after "$g"; run $B before "$g"; fi
  i=$((i+1))
done
echo ALLDONE >> $O/progress
