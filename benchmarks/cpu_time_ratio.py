"""Words per CPU-second (user+sys of the training process), a load-robust per-core measure."""
import json
import resource
import subprocess
import sys
import time

corpus, model = sys.argv[1], sys.argv[2]
words = int(subprocess.run(["wc", "-w", corpus], capture_output=True, text=True).stdout.split()[0])
EPOCHS = 1
def cpu_of(cmd):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.time()
    subprocess.run(cmd, check=True, capture_output=True)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), time.time() - t
sg = "1" if model == "sg" else "0"
alpha = "0.025" if model == "sg" else "0.05"
cmds = {
 "mtlembed": ["mtlembed", "train", corpus, "-o", "/tmp/cr_m.bin", "--model", model, "--dim", "100",
              "--window", "5", "--negative", "5", "--sample", "1e-4", "--min-count", "5",
              "--epochs", str(EPOCHS), "--alpha", alpha, "--threads", "2", "--quiet"],
 "gensim": [sys.executable, "-c",
            f"from gensim.models import Word2Vec; Word2Vec(corpus_file='{corpus}', vector_size=100, "
            f"window=5, negative=5, hs=0, sample=1e-4, min_count=5, epochs={EPOCHS}, alpha={alpha}, "
            f"workers=2, sg={sg}).wv.save_word2vec_format('/tmp/cr_g.bin', binary=True)"],
 "fasttext": [sys.executable, "-c",
              f"import fasttext; fasttext.train_unsupervised('{corpus}', "
              f"model='{'skipgram' if model=='sg' else 'cbow'}', dim=100, ws=5, neg=5, t=1e-4, minCount=5, "
              f"epoch={EPOCHS}, lr={alpha}, thread=2, minn=0, maxn=0, wordNgrams=1, verbose=0)"],
 "word2vec": [str(__import__("pathlib").Path(sys.executable).parent / "word2vec"), "-train", corpus,
              "-output", "/tmp/cr_w.bin", "-cbow", "0" if model == "sg" else "1", "-size", "100",
              "-window", "5", "-negative", "5", "-hs", "0", "-sample", "1e-4", "-threads", "2",
              "-iter", str(EPOCHS), "-min-count", "5", "-binary", "1", "-alpha", alpha],
}
out = {}
for name, cmd in cmds.items():
    cpu, wall = cpu_of(cmd)
    out[name] = {"cpu_seconds": round(cpu, 2), "wall_seconds": round(wall, 2),
                 "words_per_cpu_second": round(words * EPOCHS / cpu)}
    print(name, out[name], flush=True)
print(json.dumps(out))
