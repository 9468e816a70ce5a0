# 17M x 1, 2 threads, seed 1: fastText against mtlembed with fastText's settings and with the defaults,
# each with and without hot-row copies; every model kept, scored, and broken down.
cd /work/main
C=benchmarks/.cache/enwiki-text8-17M.txt
D=benchmarks/.cache/probe
COMMON="--model sg --dim 100 --window 5 --negative 5 --sample 0.0001 --min-count 5 --epochs 1 --alpha 0.025 --threads 2 --seed 1"
SUB="--subwords --min-n 3 --max-n 6 --buckets 2000000"
FT="init_range=1.0,wide_from_updates=1,noise_power=0.5,shared_negatives=false"
run() { # label settings
  nice -n 19 python benchmarks/quality_launch.py "$2" train $C -o $D/$1.vec $COMMON $SUB --fasttext-out $D/$1.bin --quiet
}
[ -f $D/fasttext.bin ] || nice -n 19 python benchmarks/peer_train.py fasttext --corpus $C --out $D/fasttext.bin --model sg --dim 100 --window 5 --negative 5 --sample 0.0001 --min-count 5 --epochs 1 --alpha 0.025 --threads 2 --seed 1 --buckets 2000000 > $D/fasttext.json 2>/dev/null
run ftset-copies "$FT"
run ftset-nocopies "$FT,copy_hot_rows=false"
run defaults-copies "-"
run defaults-nocopies "copy_hot_rows=false"
for m in fasttext ftset-copies ftset-nocopies defaults-copies defaults-nocopies; do
  python -c "import sys, json; sys.path.insert(0, 'benchmarks'); import bench_subwords as b; s = b.english_scores('$D/$m.bin'); print('$m', round(100*s['analogy'], 2), round(s['rw_subwords']['spearman'], 4))"
done
python benchmarks/rw_breakdown.py $D/{fasttext,ftset-copies,ftset-nocopies,defaults-copies,defaults-nocopies}.bin
