# mtlembed with fastText's settings and its actual start (2/10 of the rows random, the rest zero)
cd /work/main
C=benchmarks/.cache/enwiki-text8-17M.txt
D=benchmarks/.cache/probe
L=benchmarks/results/subwords-sg-residual/ftstart_launch.py
SUB="--subwords --min-n 3 --max-n 6 --buckets 2000000"
FT="init_range=1.0,wide_from_updates=1,noise_power=0.5,shared_negatives=false"
score() { python -c "import sys; sys.path.insert(0, 'benchmarks'); import bench_subwords as b; s = b.english_scores('$1'); print('$2', round(100*s['analogy'], 2), round(s['rw_subwords']['spearman'], 4))"; }
for copies in false true; do
  nice -n 19 python $L "$FT,copy_hot_rows=$copies" train $C -o $D/x.vec --model sg --dim 100 --window 5 --negative 5 --sample 0.0001 --min-count 5 --epochs 1 --alpha 0.025 --threads 2 --seed 1 $SUB --fasttext-out $D/ftstart-copies-$copies.bin --quiet
  score $D/ftstart-copies-$copies.bin "17M x 1, fastText settings and start, copy_hot_rows=$copies"
done
python benchmarks/rw_breakdown.py $D/fasttext.bin $D/ftstart-copies-false.bin $D/ftstart-copies-true.bin
