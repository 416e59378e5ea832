#!/bin/bash
export PATH=$PATH:/usr/local/go/bin
# usage: rerun.sh BEFORE_DIR AFTER_DIR OUTDIR
O=$3; mkdir -p $O
for round in 1 2; do
  for side in before after; do
    if [ $side = before ]; then d=$1; else d=$2; fi
    (cd $d && SFTPMOUNT_BENCH_RTTS=0 go test -count=2 ./integration -run '^$' -bench '^BenchmarkDevDay$/^rtt0ms$/^sftpmount' -benchtime 1x -timeout 60m) >> $O/$side.txt 2>&1
    (cd $d && SFTPMOUNT_BENCH_RTTS=0,50 go test -count=2 ./integration -run '^$' -bench '^Benchmark(CopyInsideTheMount|UntarIntoAnUnlistedDir|HugeDirLs|HugeDirLsL|WarmLsLR)$/^rtt(0|50)ms$/^sftpmount' -benchtime 1x -timeout 60m) >> $O/$side.txt 2>&1
    echo "$(date +%T) $side round $round" >> $O/progress
  done
done
echo ALLDONE >> $O/progress
