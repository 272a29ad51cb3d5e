#!/usr/bin/env bash
# The graft command end to end on a tiny generated dataset: demo, train,
# evaluate, predict, summary, and its errors. Usage: cli_test.sh PATH/TO/graft
set -euo pipefail
GRAFT=$(realpath "$1")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
fail() { echo "cli_test: $*" >&2; exit 1; }

# demo: the beans workflow, random weights, a few images.
"$GRAFT" demo --output-dir demo --weights random --images-per-class 6 --epochs 2 --fine-tune-epochs 1 > demo.log
grep -q "Fine-tuning the base's last 10 layers" demo.log || fail "demo did not fine-tune"
grep -q "^Test accuracy: " demo.log || fail "demo printed no test accuracy"
[ "$(wc -l < demo/history.csv)" = 4 ] || fail "history.csv should hold a header and 3 epochs"
head -1 demo/history.csv | grep -qx "epoch,phase,loss,accuracy,val_loss,val_accuracy" || fail "history.csv header"
grep -q "^3,fine-tune," demo/history.csv || fail "history.csv phases"
grep -q "<svg" demo/history.svg && grep -q "polyline" demo/history.svg || fail "history.svg has no curves"

# Data-parallel under mpirun: two processes with the global batch of 8 take
# the steps one process takes (SGD: reordered float32 sums leave the same
# printed figures); rank 0 alone prints and writes the files.
command -v mpirun > /dev/null || fail "mpirun is missing: make deps installs Open MPI"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
parallel_args=(demo/data/train --weights random --image-size 32 --batch-size 8 --epochs 2 --optimizer sgd
               --learning-rate 0.01 --threads 1)
"$GRAFT" train "${parallel_args[@]}" --output one.h5 --history one.csv --chart one.svg > one.log
mpirun --oversubscribe -np 2 "$GRAFT" train "${parallel_args[@]}" --checkpoint "ckpt-{epoch}.h5" \
    --csv-logger log.csv --output two.h5 --history two.csv --chart two.svg > two.log
[ "$(grep -c '^Epoch 2/2' two.log)" = 1 ] && [ "$(grep -c '^Saved the model' two.log)" = 1 ] \
    || fail "mpirun: rank 0 alone prints: $(cat two.log)"
[ -s two.h5 ] && [ -s ckpt-2.h5 ] && [ "$(wc -l < log.csv)" = 3 ] || fail "mpirun: rank 0 writes the files"
[ "$("$GRAFT" evaluate one.h5 demo/data/test | grep '^accuracy')" \
    = "$("$GRAFT" evaluate two.h5 demo/data/test | grep '^accuracy')" ] || fail "mpirun: the model differs from one process's"

# train with other options on the same folders, then use the model.
"$GRAFT" train demo/data/train --weights random --image-size 64x48 --batch-size 8 --validation-split 0.25 \
    --optimizer sgd --learning-rate 0.01 --momentum 0.9 --hidden 16 --dropout 0.2 --epochs 1 \
    --fine-tune-epochs 1 --micro-batch-size 3 --output trained.h5 --history h.csv --chart h.svg > train.log
grep -q "Fine-tuning the whole base" train.log || fail "train did not fine-tune the whole base"
[ -s trained.h5 ] && [ -s h.csv ] && [ -s h.svg ] || fail "train wrote no model, history or chart"

"$GRAFT" evaluate trained.h5 demo/data/test > evaluate.log
grep -Eq "^accuracy: [0-9.e+-]+ - loss: [0-9.e+-]+$" evaluate.log || fail "evaluate: $(cat evaluate.log)"
grep -A5 "^Confusion matrix" evaluate.log | grep -Eq "^ *discs( +[0-9]+){4}$" || fail "confusion matrix: $(cat evaluate.log)"
# Its rows add up to the test images of each class.
total=$(grep -A5 "^Confusion matrix" evaluate.log | tail -4 | awk '{ for (i = 2; i <= NF; i++) s += $i } END { print s }')
[ "$total" = "$(find demo/data/test -type f | wc -l)" ] || fail "confusion matrix counts $total images"

"$GRAFT" predict trained.h5 demo/data/test/discs/discs_0.bmp --top-k 2 > predict.log
[ "$(wc -l < predict.log)" = 3 ] || fail "predict should print the file and 2 classes"
grep -Eq "^  [0-9.e+-]+  (checks|discs|rings|stripes)$" predict.log || fail "predict: $(cat predict.log)"

"$GRAFT" summary trained.h5 > summary.log
grep -q "dense_1 (Dense)" summary.log || fail "summary lacks the output layer"
# ResNet50's 23,587,712 parameters, Dense(2048 -> 16) and Dense(16 -> 4).
grep -q "Total params: 23,620,564 " summary.log || fail "summary: $(tail -4 summary.log)"
grep -q "Classes: checks, discs, rings, stripes" summary.log || fail "summary lacks the class names"

# --binary: two classes on Keras's binary head, Dense(1).
mkdir -p pair/train pair/test
cp -r demo/data/train/checks demo/data/train/discs pair/train/
cp -r demo/data/test/checks demo/data/test/discs pair/test/
"$GRAFT" train pair/train --binary --weights random --image-size 32 --batch-size 4 --epochs 2 \
    --output binary.h5 --history binary.csv --chart binary.svg > binary.log
"$GRAFT" summary binary.h5 | grep -Eq "dense \(Dense\) +│ \(None, 1\) +│ +2,049 " || fail "binary head: $("$GRAFT" summary binary.h5)"
"$GRAFT" evaluate binary.h5 pair/test > binary-evaluate.log
grep -A3 "^Confusion matrix" binary-evaluate.log | grep -Eq "^ *discs( +[0-9]+){2}$" \
    || fail "binary confusion matrix: $(cat binary-evaluate.log)"
"$GRAFT" predict binary.h5 pair/test/discs/discs_0.bmp > binary-predict.log
awk 'NR > 1 { s += $1 } END { exit !(NR == 3 && s > 0.999 && s < 1.001) }' binary-predict.log \
    || fail "binary predict should give both classes' probabilities: $(cat binary-predict.log)"
if "$GRAFT" train demo/data/train --binary --weights random 2> err.log; then fail "--binary on 4 classes succeeded"; fi
grep -q -- "--binary needs two classes" err.log || fail "--binary on 4 classes: $(cat err.log)"

# Errors: a message and a non-zero status, never a crash.
if "$GRAFT" evaluate missing.h5 demo/data/test 2> err.log; then fail "evaluate of a missing model succeeded"; fi
grep -q "model file not found: missing.h5" err.log || fail "missing model: $(cat err.log)"
if "$GRAFT" predict demo/history.csv x.bmp 2> err.log; then fail "predict with a CSV as model succeeded"; fi
grep -q "not a valid HDF5 file" err.log || fail "CSV as model: $(cat err.log)"
if "$GRAFT" train no-such-folder --weights random 2> err.log; then fail "train on a missing folder succeeded"; fi
grep -qi "no-such-folder" err.log || fail "missing folder: $(cat err.log)"
# Keras's optimizers, clipping and schedules; the saved model keeps them.
"$GRAFT" train demo/data/train --weights random --image-size 32 --batch-size 8 --epochs 2 --optimizer adamw \
    --weight-decay 0.01 --global-clipnorm 1 --output adamw.h5 --history adamw.csv --chart adamw.svg \
    --learning-rate-schedule cosine_decay:decay_steps=10,warmup_target=0.01,warmup_steps=2 > adamw.log
[ "$(wc -l < adamw.csv)" = 3 ] || fail "adamw: history.csv should hold 2 epochs"
"$GRAFT" train demo/data/train --weights random --image-size 32 --batch-size 8 --epochs 1 --optimizer rmsprop \
    --momentum 0.5 --clipvalue 0.5 --learning-rate-schedule piecewise_constant_decay:boundaries=2,values=0.01/0.001 \
    --top-k-accuracy 2 --steps-per-epoch 2 --checkpoint "w-{epoch}.weights.h5" --checkpoint-weights-only \
    --output rmsprop.h5 --history rmsprop.csv --chart rmsprop.svg > rmsprop.log
grep -q " - sparse_top_k_categorical_accuracy: [0-9.]* - val_accuracy: " rmsprop.log || fail "top-k: $(cat rmsprop.log)"
grep -q "^2/2 " rmsprop.log || fail "steps per epoch: $(cat rmsprop.log)"
[ -s w-1.weights.h5 ] || fail "no weights checkpoint: $(ls)"
"$GRAFT" evaluate rmsprop.h5 demo/data/test > topk.log
grep -Eq "^accuracy: [0-9.e+-]+ - loss: [0-9.e+-]+ - sparse_top_k_categorical_accuracy: [0-9.]+$" topk.log \
    || fail "evaluate with the saved top-k accuracy: $(cat topk.log)"
# Keras's callbacks, one instance for both phases.
"$GRAFT" train demo/data/train --weights random --image-size 32 --batch-size 8 --epochs 6 --fine-tune-epochs 3 \
    --unfreeze-last 10 --early-stopping-patience 0 --monitor loss --restore-best-weights --reduce-lr-on-plateau 1 \
    --checkpoint "ckpt/m-{epoch:02d}-{loss:.3f}.keras" --csv-logger keras.csv --terminate-on-nan \
    --output callbacks.h5 --history callbacks.csv --chart callbacks.svg > callbacks.log
ls ckpt/m-01-*.keras > /dev/null || fail "no checkpoint of epoch 1: $(ls ckpt)"
# A .keras checkpoint (Keras 3's archive) predicts with its class names.
"$GRAFT" predict "$(ls ckpt/m-01-*.keras | head -1)" demo/data/test/discs/discs_0.bmp --top-k 1 > keras-predict.log
grep -Eq "^  [0-9.e+-]+  (checks|discs|rings|stripes)$" keras-predict.log || fail "predict from .keras: $(cat keras-predict.log)"
head -1 keras.csv | tr -d "\r" | grep -qx "epoch,accuracy,learning_rate,loss,val_accuracy,val_loss" \
    || fail "CSVLogger header: $(head -1 keras.csv)"
[ "$(grep -c '^0,' keras.csv)" = 2 ] || fail "CSVLogger should hold both phases: $(cat keras.csv)"
if "$GRAFT" train demo/data/train --weights random --checkpoint model.txt 2> err.log; then fail ".txt checkpoint accepted"; fi
grep -q 'must end in `.keras`' err.log || fail "checkpoint path: $(cat err.log)"
if "$GRAFT" train demo/data/train --weights random --clipnorm 1 --clipvalue 1 2> err.log; then fail "two clippings accepted"; fi
grep -q "only one of --clipnorm, --global-clipnorm and --clipvalue" err.log || fail "two clippings: $(cat err.log)"
if "$GRAFT" train demo/data/train --weights random --learning-rate-schedule cosine_decay:decay_steps=0 2> err.log; then
    fail "decay_steps 0 accepted"
fi
grep -q "decay_steps must be > 0" err.log || fail "decay_steps 0: $(cat err.log)"
if "$GRAFT" train demo/data/train --weights random --learning-rate-schedule warp_decay 2> err.log; then
    fail "an unknown schedule accepted"
fi
grep -q "unknown schedule \"warp_decay\"" err.log || fail "unknown schedule: $(cat err.log)"
if "$GRAFT" train demo/data/train --weights random --optimizer adagrad 2> err.log; then fail "adagrad accepted"; fi
grep -q "unknown optimizer \"adagrad\"" err.log || fail "unknown optimizer: $(cat err.log)"

if "$GRAFT" train demo/data/train --weights random --augmentation sideways 2> err.log; then fail "bad augmentation accepted"; fi
grep -q "unknown augmentation layer \"sideways\"" err.log || fail "bad augmentation: $(cat err.log)"
if "$GRAFT" train demo/data/train --weights random --augmentation rotation:0.1:fill_mode=mirror 2> err.log; then
    fail "a bad fill_mode accepted"
fi
grep -q "fill_mode must be reflect, wrap, constant or nearest" err.log || fail "bad fill_mode: $(cat err.log)"
# Keras's augmentation layers: the frozen base then runs on every batch, and says so.
"$GRAFT" train demo/data/train --weights random --image-size 32 --batch-size 8 --epochs 1 \
    --augmentation flip:horizontal,rotation:0.1,zoom:0.2:fill_mode=nearest --output augmented.h5 \
    --history augmented.csv --chart augmented.svg > augmented.log
grep -q "^Feature cache: off for training images (RandomRotation, RandomZoom" augmented.log \
    || fail "augmentation: $(cat augmented.log)"
"$GRAFT" summary augmented.h5 > augmented-summary.log
grep -q "(RandomZoom)" augmented-summary.log || fail "summary lacks the augmentation: $(cat augmented-summary.log)"
if "$GRAFT" evaluate trained.h5 demo/data/test --precision float16 2> err.log; then fail "precision float16 accepted"; fi
grep -q "precision must be float32, bfloat16, int8" err.log || fail "bad precision: $(cat err.log)"
if "$GRAFT" predict trained.h5 demo/data/test/discs/discs_0.bmp --max-image-pixels 100 2> err.log; then
    fail "an image over --max-image-pixels was predicted"
fi
grep -q "discs_0.bmp: BMP of .* pixels is over the pixel limit of 100" err.log || fail "pixel limit: $(cat err.log)"
if "$GRAFT" predict trained.h5 demo/data/test/discs/discs_0.bmp --max-image-pixels 0 2> err.log; then
    fail "a pixel limit of 0 was accepted"
fi
grep -q "max_image_pixels must be at least 1, not 0" err.log || fail "pixel limit 0: $(cat err.log)"
mkfifo pipe.png
if "$GRAFT" predict trained.h5 pipe.png 2> err.log; then fail "predict read a FIFO"; fi
grep -q "pipe.png: is a FIFO, not a regular file" err.log || fail "FIFO: $(cat err.log)"

# bfloat16 where the CPU has it, else a clear refusal.
if grep -qw avx512_bf16 /proc/cpuinfo; then
    "$GRAFT" evaluate trained.h5 demo/data/test --precision bfloat16 > bf16.log
    grep -q "accuracy: " bf16.log || fail "bfloat16 evaluate: $(cat bf16.log)"
elif "$GRAFT" evaluate trained.h5 demo/data/test --precision bfloat16 2> err.log; then
    fail "bfloat16 accepted on a CPU without AVX512_BF16"
else
    grep -q "AVX512_BF16" err.log || fail "bfloat16 refusal: $(cat err.log)"
fi
# int8: calibrated on a folder of images, where the CPU has AVX512_VNNI, else
# a clear refusal; without --calibration, refused either way.
if "$GRAFT" evaluate trained.h5 demo/data/test --precision int8 2> err.log; then fail "int8 without calibration"; fi
grep -q "needs --calibration DIR" err.log || fail "int8 without calibration: $(cat err.log)"
if grep -qw avx512_vnni /proc/cpuinfo; then
    "$GRAFT" evaluate trained.h5 demo/data/test --precision int8 --calibration demo/data/train > int8.log
    grep -q "accuracy: " int8.log || fail "int8 evaluate: $(cat int8.log)"
    "$GRAFT" predict trained.h5 demo/data/test/discs/discs_0.bmp --precision int8 --calibration demo/data/train \
        > int8-predict.log
    grep -q "discs_0.bmp" int8-predict.log || fail "int8 predict: $(cat int8-predict.log)"
    # A model trained in int8 keeps its calibration: predict needs none.
    "$GRAFT" train demo/data/train --weights random --image-size 32 --epochs 1 --batch-size 8 \
        --precision int8 --calibration demo/data/train --output int8.h5 --history int8.csv --chart int8.svg > /dev/null
    "$GRAFT" predict int8.h5 demo/data/test/discs/discs_0.bmp --precision int8 > int8-saved.log
    grep -q "discs_0.bmp" int8-saved.log || fail "int8 predict from the saved calibration: $(cat int8-saved.log)"
elif "$GRAFT" evaluate trained.h5 demo/data/test --precision int8 --calibration demo/data/train 2> err.log; then
    fail "int8 accepted on a CPU without AVX512_VNNI"
else
    grep -q "AVX512_VNNI" err.log || fail "int8 refusal: $(cat err.log)"
fi
echo "cli_test: ok"
