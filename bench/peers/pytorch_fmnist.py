#!/usr/bin/python3
"""The PyTorch peer of `mimic distill`: the same models, trained the same way on Fashion-MNIST,
printing the same table (model, params, test acc, train s, train img/s, infer img/s).

Models: the teacher (4 conv + 2 dense, 870,634 parameters), the 784-1024-10 student, and the
mimic-form students 784 -> k128 linear -> H5541 ReLU -> 10, conv5x5(64)-ReLU-pool4 -> k128
linear -> H3363 ReLU -> 10 (mimic's default conv form) and conv5x5(64)-ReLU-pool -> k32 linear
-> H10873 ReLU -> 10 (its form before 2026-11-30), each on the labels (CE), on the teacher's logits (L2, Ba & Caruana)
or with KD (T = 4, T^2-scaled KL + 2 x CE, as mimic since 2026-11-30). SGD momentum 0.9,
weight decay 5e-4 on weights,
batch 128, half an epoch of linear warm-up then cosine, gradients clipped to norm 5, shifts of
up to 2 pixels and horizontal flips: all as mimic's defaults.

Train img/s counts only the training step of the model itself (forward, loss, backward,
clipping, SGD), like mimic: not the batch assembly or augmentation, and not the teacher's
forward pass that labels a mimic student's batch.

Needs Debian's python3-torch, which only imports under /usr/bin/python3; exits with 77 (ctest's
"skipped") when torch is missing. Debian's torch spins its OpenMP and OpenBLAS threads unless
OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and OMP_WAIT_POLICY=PASSIVE are set, so the script
re-executes itself with them set to --threads.

  /usr/bin/python3 bench/peers/pytorch_fmnist.py --throughput-only --threads 2
  /usr/bin/python3 bench/peers/pytorch_fmnist.py --models mlp1024 --losses labels --epochs 15
"""
import argparse
import gzip
import importlib.util
import math
import os
import platform
import struct
import sys
import time

SKIP = 77
SYSTEM_PYTHON = "/usr/bin/python3"
DATA_DIR = "/usr/share/datasets/fashion-mnist"
MEAN, STD = 0.2860, 0.3530
CLASSES = 10
MODELS = ("teacher", "mlp1024", "timit", "cifar4", "cifar")
LOSSES = ("labels", "l2", "kd")
LOSS_NAMES = {"labels": "labels (CE)", "l2": "logits (L2)", "kd": "KD"}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=DATA_DIR, help="directory of the gzip'ed IDX files")
    p.add_argument("--epochs", type=int, default=15, help="epochs of every training (15)")
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                   help="torch.set_num_threads and the OpenMP/OpenBLAS thread counts "
                        "(default: the CPUs this process may run on)")
    p.add_argument("--train-limit", type=int, default=0,
                   help="use only the first N training images (0: all 60,000)")
    p.add_argument("--models", default=",".join(MODELS),
                   help="comma-separated, from: " + ", ".join(MODELS) +
                        " (teacher: the 4-conv CNN; mlp1024: 784-1024-10; timit: "
                        "784-k128-H5541-10; cifar4: conv5x5(64)+pool4-k128-H3363-10; "
                        "cifar: conv5x5(64)+pool-k32-H10873-10)")
    p.add_argument("--losses", default=",".join(LOSSES),
                   help="the students' trainings, from: labels, l2, kd (default: all three)")
    p.add_argument("--no-augment", action="store_true",
                   help="no shifts or flips (teacher, label students and transfer set)")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.05, help="learning rate of CE and KD (0.05)")
    p.add_argument("--l2-lr", type=float, default=0.01, help="learning rate of L2 (0.01)")
    p.add_argument("--clip", type=float, default=5.0, help="gradient norm clip (0: none)")
    p.add_argument("--temperature", type=float, default=4.0)
    p.add_argument("--kd-label-weight", type=float, default=2.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--throughput-only", action="store_true",
                   help="time --steps training steps after --warmup ones, and inference over "
                        "the test set; no full training, no accuracy")
    p.add_argument("--steps", type=int, default=100, help="timed steps of --throughput-only")
    p.add_argument("--warmup", type=int, default=10, help="untimed steps before them")
    a = p.parse_args()
    a.models = [m for m in a.models.split(",") if m]
    a.losses = [x for x in a.losses.split(",") if x]
    bad = [m for m in a.models if m not in MODELS] + [x for x in a.losses if x not in LOSSES]
    if bad or a.threads < 1 or a.epochs < 1 or a.batch < 1 or a.steps < 1 or a.warmup < 0:
        p.error("bad value(s): %s" % (", ".join(bad) or "threads, epochs, batch and steps >= 1"))
    return a


def reexec_if_needed(threads):
    """Re-run under /usr/bin/python3 when torch is not importable here, and with the thread
    variables set when they are not: both must be right before torch is imported."""
    want = {"OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads),
            "MKL_NUM_THREADS": str(threads), "OMP_WAIT_POLICY": "PASSIVE"}
    exe = sys.executable
    if importlib.util.find_spec("torch") is None and os.path.exists(SYSTEM_PYTHON) \
            and os.path.realpath(exe) != os.path.realpath(SYSTEM_PYTHON):
        exe = SYSTEM_PYTHON
    env_ok = all(os.environ.get(k) == v for k, v in want.items())
    if (env_ok and exe == sys.executable) or os.environ.get("MIMIC_PEER_REEXEC"):
        return
    env = dict(os.environ, MIMIC_PEER_REEXEC="1", **want)
    sys.stdout.flush()
    os.execve(exe, [exe, os.path.abspath(__file__)] + sys.argv[1:], env)


def import_torch():
    try:
        import torch  # noqa: F401
        return torch
    except ImportError as e:
        print("pytorch_fmnist.py: skipped: PyTorch is not importable (%s). Install Debian's "
              "python3-torch (apt-get install python3-torch) and run with %s."
              % (e, SYSTEM_PYTHON), file=sys.stderr)
        sys.exit(SKIP)


# --- Data --------------------------------------------------------------------------------

def read_idx(path, magic, dims):
    """A gzip'ed IDX file of unsigned bytes: its dimensions and its bytes."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    got, = struct.unpack(">I", data[:4])
    if got != magic:
        raise ValueError("%s: magic 0x%08x, want 0x%08x" % (path, got, magic))
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    body = data[4 + 4 * dims:]
    if len(body) != math.prod(shape):
        raise ValueError("%s: %d bytes of data, want %d" % (path, len(body), math.prod(shape)))
    return shape, body


def load_split(torch, data_dir, split):
    stem = os.path.join(data_dir, split)
    shape, pixels = read_idx(stem + "-images-idx3-ubyte.gz", 0x803, 3)
    _, labels = read_idx(stem + "-labels-idx1-ubyte.gz", 0x801, 1)
    x = torch.frombuffer(bytearray(pixels), dtype=torch.uint8).float().div_(255.0)
    x = x.sub_(MEAN).div_(STD).reshape(shape[0], 1, shape[1], shape[2])
    y = torch.frombuffer(bytearray(labels), dtype=torch.uint8).long()
    return x, y


def augment(torch, x, gen, max_shift=2):
    """Like mimic_dataset_batch: each image mirrored with probability 1/2, then shifted by
    (dy, dx) in [-2, 2]^2; pixels shifted in take the background (a normalised 0)."""
    n, _, h, w = x.shape
    flip = torch.randint(0, 2, (n,), generator=gen).bool()
    dy = torch.randint(-max_shift, max_shift + 1, (n,), generator=gen)
    dx = torch.randint(-max_shift, max_shift + 1, (n,), generator=gen)
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    s = max_shift
    padded = torch.nn.functional.pad(x, (s, s, s, s), value=(0.0 - MEAN) / STD)
    rows = torch.arange(h)[None, :] + (s - dy)[:, None]
    cols = torch.arange(w)[None, :] + (s - dx)[:, None]
    b = torch.arange(n)[:, None, None]
    return padded[b, 0, rows[:, :, None], cols[:, None, :]].unsqueeze(1).contiguous()


# --- Models ------------------------------------------------------------------------------

def build(torch, kind):
    nn = torch.nn
    if kind == "teacher":
        layers = [nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1),
                  nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
                  nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                  nn.Linear(3136, 256), nn.ReLU(), nn.Linear(256, CLASSES)]
        name = "teacher (4 conv + 2 dense)"
    elif kind == "mlp1024":
        layers = [nn.Flatten(), nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, CLASSES)]
        name = "784 k=0 H=1024"
    elif kind == "timit":
        # The linear bottleneck has no bias, as in mimic (a bias there is redundant with H's).
        layers = [nn.Flatten(), nn.Linear(784, 128, bias=False), nn.Linear(128, 5541),
                  nn.ReLU(), nn.Linear(5541, CLASSES)]
        name = "784 k=128 H=5541"
    elif kind == "cifar4":
        layers = [nn.Conv2d(1, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(4), nn.Flatten(),
                  nn.Linear(64 * 7 * 7, 128, bias=False), nn.Linear(128, 3363), nn.ReLU(),
                  nn.Linear(3363, CLASSES)]
        name = "conv5x5+pool4 k=128 H=3363"
    else:
        layers = [nn.Conv2d(1, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                  nn.Linear(64 * 14 * 14, 32, bias=False), nn.Linear(32, 10873), nn.ReLU(),
                  nn.Linear(10873, CLASSES)]
        name = "conv5x5+pool k=32 H=10873"
    net = nn.Sequential(*layers)
    for m in net.modules():  # He initialisation and zero biases, as mimic_net_finalize
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return name, net


def lr_at(base, step, total, warmup):
    """mimic_lr_cosine: linear warm-up over `warmup` steps, then cosine decay to 0."""
    if step < warmup:
        return base * (step + 1) / warmup
    if total <= warmup:
        return base
    t = min(1.0, (step - warmup) / (total - warmup))
    return 0.5 * base * (1.0 + math.cos(math.pi * t))


class Trainer:
    """One model, its loss and its SGD; step() times only the model's own work."""

    def __init__(self, torch, net, loss, a):
        self.torch, self.net, self.loss, self.a = torch, net, loss, a
        decay = [p for p in net.parameters() if p.dim() > 1]  # weights decay, biases do not
        plain = [p for p in net.parameters() if p.dim() <= 1]
        self.base_lr = a.l2_lr if loss == "l2" else a.lr
        self.opt = torch.optim.SGD([{"params": decay, "weight_decay": 5e-4},
                                    {"params": plain, "weight_decay": 0.0}],
                                   lr=self.base_lr, momentum=0.9)
        self.seconds = 0.0

    def objective(self, out, y, teacher_logits):
        F = self.torch.nn.functional
        if self.loss == "labels":
            return F.cross_entropy(out, y)
        if self.loss == "l2":  # Ba & Caruana: 1/(2 rows) * sum of squared logit differences
            return (out - teacher_logits).pow(2).sum() / (2 * out.shape[0])
        T = self.a.temperature
        kl = F.kl_div(F.log_softmax(out / T, dim=1), F.log_softmax(teacher_logits / T, dim=1),
                      reduction="batchmean", log_target=True)
        return T * T * kl + self.a.kd_label_weight * F.cross_entropy(out, y)

    def step(self, x, y, teacher_logits, lr):
        for g in self.opt.param_groups:
            g["lr"] = lr
        t0 = time.perf_counter()
        self.opt.zero_grad(set_to_none=True)
        loss = self.objective(self.net(x), y, teacher_logits)
        loss.backward()
        if self.a.clip > 0:
            self.torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.a.clip)
        self.opt.step()
        self.seconds += time.perf_counter() - t0
        return float(loss)


def evaluate(torch, net, x, y, batch):
    """Test accuracy and inference images/s (batches of `batch`, as mimic)."""
    net.eval()
    correct = 0
    with torch.no_grad():
        net(x[:batch])  # first-call allocations and primitive creation stay out of the timing
        t0 = time.perf_counter()
        for i in range(0, x.shape[0], batch):
            correct += int((net(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum())
        seconds = time.perf_counter() - t0
    net.train()
    return correct / x.shape[0], x.shape[0] / seconds


# --- The runs ----------------------------------------------------------------------------

def batches(torch, x, y, a, epoch_seed):
    """The epoch's shuffled, augmented batches (the last partial batch dropped, as mimic)."""
    gen = torch.Generator().manual_seed(epoch_seed)
    order = torch.randperm(x.shape[0], generator=gen)
    for s in range(x.shape[0] // a.batch):
        idx = order[s * a.batch:(s + 1) * a.batch]
        xb = x[idx] if a.no_augment else augment(torch, x[idx], gen)
        yield xb, y[idx]


def train(torch, name, trainer, teacher, data, a):
    """Full training: `a.epochs` epochs, evaluated after each; returns the table row."""
    xtr, ytr, xte, yte = data
    steps = xtr.shape[0] // a.batch
    total, warmup = steps * a.epochs, steps // 2 + 1
    for e in range(a.epochs):
        loss_sum = 0.0
        for s, (xb, yb) in enumerate(batches(torch, xtr, ytr, a, a.seed * 1000 + e)):
            tl = None
            if teacher is not None:
                with torch.no_grad():
                    tl = teacher(xb)
            loss_sum += trainer.step(xb, yb, tl, lr_at(trainer.base_lr, e * steps + s, total,
                                                       warmup))
        acc, _ = evaluate(torch, trainer.net, xte, yte, a.batch)
        print("  %s: epoch %d/%d loss %.4f test accuracy %.4f" %
              (name, e + 1, a.epochs, loss_sum / steps, acc), file=sys.stderr, flush=True)
    acc, ips = evaluate(torch, trainer.net, xte, yte, a.batch)
    return acc, trainer.seconds, steps * a.batch * a.epochs / trainer.seconds, ips


def throughput(torch, name, trainer, teacher, data, a):
    """`a.warmup` untimed then `a.steps` timed training steps; inference over the test set."""
    xtr, ytr, xte, yte = data
    done = []
    while len(done) < a.warmup + a.steps:
        for xb, yb in batches(torch, xtr, ytr, a, a.seed * 1000 + len(done)):
            if len(done) == a.warmup:
                trainer.seconds = 0.0
            if len(done) == a.warmup + a.steps:
                break
            tl = None
            if teacher is not None:
                with torch.no_grad():
                    tl = teacher(xb)
            done.append(trainer.step(xb, yb, tl, a.lr if trainer.loss != "l2" else a.l2_lr))
    _, ips = evaluate(torch, trainer.net, xte, yte, a.batch)
    return float("nan"), trainer.seconds, a.steps * a.batch / trainer.seconds, ips


def environment(torch, threads):
    cfg = torch.__config__.show()
    keep = [l.strip(" -") for l in cfg.splitlines()
            if "MKL-DNN" in l or "oneDNN" in l or "CPU capability" in l or "OpenMP" in l]
    flags = [f for f in cfg.replace(",", " ").split() if f.split("=")[0] in
             ("BLAS_INFO", "LAPACK_INFO", "USE_MKLDNN", "USE_OPENMP", "USE_NNPACK")]
    blas = sorted({os.path.basename(l.split()[-1]) for l in open("/proc/self/maps")
                   if "blas" in l.split()[-1].lower()} if os.path.exists("/proc/self/maps")
                  else [])
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), platform.processor())
    env = " ".join("%s=%s" % (k, os.environ.get(k, "")) for k in
                   ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_WAIT_POLICY"))
    return ("torch %s, python %s, %s; torch threads %d (%s); %s; %s; BLAS loaded: %s; "
            "mkldnn enabled %s" % (torch.__version__, platform.python_version(), cpu,
                                   torch.get_num_threads(), env, "; ".join(keep),
                                   " ".join(flags), ", ".join(blas) or "?",
                                   torch.backends.mkldnn.is_available() and
                                   torch.backends.mkldnn.enabled))


def main():
    a = parse_args()
    reexec_if_needed(a.threads)
    torch = import_torch()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    try:
        xtr, ytr = load_split(torch, a.data, "train")
        xte, yte = load_split(torch, a.data, "t10k")
    except FileNotFoundError as e:
        print("pytorch_fmnist.py: skipped: %s (install Debian's dataset-fashion-mnist, or "
              "--data DIR)" % e, file=sys.stderr)
        sys.exit(SKIP)
    if a.train_limit > 0:
        xtr, ytr = xtr[:a.train_limit], ytr[:a.train_limit]
    data = (xtr, ytr, xte, yte)
    students = [m for m in a.models if m != "teacher"]
    need_teacher = any(x != "labels" for x in a.losses) and students
    rows = []
    teacher = None
    run = throughput if a.throughput_only else train
    if "teacher" in a.models or need_teacher:
        torch.manual_seed(a.seed)
        name, net = build(torch, "teacher")
        tr = Trainer(torch, net, "labels", a)
        rows.append((name, net, run(torch, name, tr, None, data, a)))
        teacher = net.eval()
    for kind in students:
        for loss in a.losses:
            torch.manual_seed(a.seed + 1)  # every student form starts from the same weights
            base, net = build(torch, kind)
            name = "%s, %s" % (base, LOSS_NAMES[loss])
            tr = Trainer(torch, net, loss, a)
            t = teacher if loss != "labels" else None
            rows.append((name, net, run(torch, name, tr, t, data, a)))

    print("\n%s" % environment(torch, a.threads))
    print("command: %s %s" % (sys.executable, " ".join([os.path.relpath(__file__)] + sys.argv[1:])))
    print("mode: %s, batch %d, augment %s" %
          ("throughput only: %d steps after %d warm-up" % (a.steps, a.warmup)
           if a.throughput_only else "%d epochs" % a.epochs, a.batch,
           "off" if a.no_augment else "on"))
    print("\n%-40s %10s %9s %10s %12s %12s" % ("model", "params", "test acc", "train s",
                                             "train img/s", "infer img/s"))
    for name, net, (acc, seconds, tips, iips) in rows:
        params = sum(p.numel() for p in net.parameters())
        acc_s = "-" if math.isnan(acc) else "%.2f%%" % (100 * acc)
        print("%-40s %10d %9s %10.1f %12.0f %12.0f" % (name, params, acc_s, seconds, tips, iips))


if __name__ == "__main__":
    main()
