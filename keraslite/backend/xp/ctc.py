"""Backend methods for the CTC primitives (connectionist temporal classification).

`ctc_loss` / `ctc_loss_grad` are written once against `self.xp`: the forward (alpha) and backward
(beta) recursions run in log space, vectorised over the batch and the extended label positions,
with a Python loop over time only. The decoders (`ctc_decode`) and `ctc_dense_to_sparse` produce
data-dependent shapes and are inherently sequential per sample: they run on the host (NumPy) through
`self.to_numpy` / `self.from_numpy`.

Conventions (those of TensorFlow's ctc ops, which Keras 2 uses): `lp` is (N, T, C) float
log-probabilities, the blank is the last class C - 1, `labels` is (N, L) int with the first
`label_length[n]` entries valid, `input_length` / `label_length` are (N,) ints.
"""
from __future__ import annotations

import numpy as np


def _lse(xp, *terms):
    """log(sum(exp(terms))) element-wise, -inf when every term is -inf."""
    m = terms[0]
    for t in terms[1:]:
        m = xp.maximum(m, t)
    shift = xp.where(m == -np.inf, xp.zeros_like(m), m)
    acc = xp.exp(terms[0] - shift)
    for t in terms[1:]:
        acc = acc + xp.exp(t - shift)
    return shift + xp.log(acc)


def _shift_right(xp, a, k, fill):
    """a[:, s - k] at position s (fill where s < k)."""
    if k >= a.shape[1]:
        return xp.full(a.shape, fill, dtype=a.dtype)
    pad = xp.full((a.shape[0], k), fill, dtype=a.dtype)
    return xp.concatenate([pad, a[:, :a.shape[1] - k]], axis=1)


def _shift_left(xp, a, k, fill):
    """a[:, s + k] at position s (fill where s + k >= S)."""
    if k >= a.shape[1]:
        return xp.full(a.shape, fill, dtype=a.dtype)
    pad = xp.full((a.shape[0], k), fill, dtype=a.dtype)
    return xp.concatenate([a[:, k:], pad], axis=1)


class _Lattice:
    """The extended label sequence (blank, l1, blank, l2, ..., blank) of every sample."""

    def __init__(self, xp, lp, labels, input_length, label_length):
        if lp.ndim != 3:
            raise ValueError(f"ctc_loss: log-probabilities must be (batch, time, classes), got shape {lp.shape}")
        n, t, c = lp.shape
        self.n, self.t, self.c = n, t, c
        blank = c - 1
        labels = labels.astype(np.int64, copy=False).reshape(n, -1)
        width = labels.shape[1]
        il = input_length.astype(np.int64, copy=False).reshape(-1)
        ll = label_length.astype(np.int64, copy=False).reshape(-1)
        if il.shape[0] != n or ll.shape[0] != n:
            raise ValueError(f"ctc_loss: batch of {n} but {il.shape[0]} input lengths and {ll.shape[0]} label lengths")
        if bool(xp.any(il < 0)) or bool(xp.any(il > t)):
            raise ValueError(f"ctc_loss: input lengths must lie in [0, {t}] (the time axis of y_pred)")
        if bool(xp.any(ll < 0)) or bool(xp.any(ll > width)):
            raise ValueError(f"ctc_loss: label lengths must lie in [0, {width}] (the width of y_true)")
        valid = xp.arange(width)[None, :] < ll[:, None]
        if bool(xp.any(valid & ((labels < 0) | (labels >= blank)))):
            raise ValueError(f"ctc_loss: labels must lie in [0, {blank - 1}] (class {blank}, the last, is the "
                             "blank)")
        lab = xp.where(valid, labels, blank)
        s = 2 * width + 1
        ext = xp.full((n, s), blank, dtype=np.int64)
        ext[:, 1::2] = lab
        skip = xp.zeros((n, s), dtype=bool)
        if s > 2:
            skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
        self.ext, self.skip, self.il, self.ll, self.s = ext, skip, il, ll, s
        # emission log-probabilities along the lattice: lpe[n, t, s] = lp[n, t, ext[n, s]]
        self.lpe = lp[xp.arange(n)[:, None, None], xp.arange(t)[None, :, None], ext[:, None, :]]
        self.neg = -np.inf
        pos = xp.arange(s)[None, :]
        # the two final lattice positions (the last label and the trailing blank)
        self.final = (pos == 2 * ll[:, None]) | (pos == 2 * ll[:, None] - 1)

    def alphas(self, xp, keep=False):
        """Forward variables; returns (log-likelihood (N,), list of alpha_t (N, S) when keep)."""
        lpe, neg = self.lpe, self.neg
        n, s = self.n, self.s
        pos = xp.arange(s)[None, :]
        dtype = lpe.dtype
        if self.t == 0:
            alpha = xp.where(pos == 0, xp.zeros((n, s), dtype), xp.full((n, s), neg, dtype))
            kept = []
        else:
            start = (pos == 0) | ((pos == 1) & (self.ll[:, None] > 0))
            alpha = xp.where(start, lpe[:, 0, :], xp.full((n, s), neg, dtype))
            # a sample of input length 0 starts (and ends) before any emission
            alpha = xp.where((self.il[:, None] == 0), xp.where(pos == 0, 0.0, neg).astype(dtype), alpha)
            kept = [alpha] if keep else None
            for t in range(1, self.t):
                a1 = _shift_right(xp, alpha, 1, neg)
                a2 = xp.where(self.skip, _shift_right(xp, alpha, 2, neg), neg)
                new = _lse(xp, alpha, a1, a2) + lpe[:, t, :]
                alpha = xp.where((t < self.il)[:, None], new, alpha)
                if keep:
                    kept.append(alpha)
        at_end = xp.where(self.final, alpha, neg)
        m = xp.max(at_end, axis=1, keepdims=True)
        shift = xp.where(m == neg, xp.zeros_like(m), m)
        loglik = (shift + xp.log(xp.sum(xp.exp(at_end - shift), axis=1, keepdims=True)))[:, 0]
        return loglik, kept

    def betas(self, xp):
        """Backward variables beta_t (N, S), each including the emission at t (list over t)."""
        lpe, neg = self.lpe, self.neg
        n, s = self.n, self.s
        dtype = lpe.dtype
        skip_next = _shift_left(xp, self.skip, 2, False)  # a skip from s to s + 2 is allowed
        last = (self.il - 1)[:, None]
        beta = xp.full((n, s), neg, dtype)
        out = [None] * self.t
        for t in range(self.t - 1, -1, -1):
            init = xp.where(self.final, lpe[:, t, :], neg)
            b1 = _shift_left(xp, beta, 1, neg)
            b2 = xp.where(skip_next, _shift_left(xp, beta, 2, neg), neg)
            rec = _lse(xp, beta, b1, b2) + lpe[:, t, :]
            beta = xp.where(t == last, init, xp.where(t < last, rec, neg))
            out[t] = beta
        return out


class CTCPrimitives:
    # ------------------------------------------------------------------ loss and its gradient
    def ctc_loss(self, lp, labels, input_length, label_length):
        """Per-sample negative log-likelihood (N,) of the labels under CTC (inf when impossible)."""
        xp = self.xp
        lat = _Lattice(xp, lp, labels, input_length, label_length)
        loglik, _ = lat.alphas(xp)
        return (-loglik).astype(lp.dtype, copy=False)

    def ctc_loss_grad(self, lp, labels, input_length, label_length):
        """d ctc_loss[n] / d lp[n, t, c] (N, T, C): minus the posterior occupancy of class c at t
        (alpha-beta); zero for t >= input_length and for samples whose labels are impossible."""
        xp = self.xp
        lat = _Lattice(xp, lp, labels, input_length, label_length)
        n, t, c = lp.shape
        if t == 0:
            return xp.zeros(lp.shape, dtype=lp.dtype)
        loglik, alphas = lat.alphas(xp, keep=True)
        betas = lat.betas(xp)
        gamma = xp.stack([a + b for a, b in zip(alphas, betas)], axis=1) - lat.lpe  # (N, T, S)
        ok = xp.isfinite(loglik)[:, None, None]
        safe = xp.where(ok[:, :, 0], loglik[:, None], xp.zeros_like(loglik[:, None]))[:, :, None]
        post = xp.where(ok, xp.exp(gamma - safe), xp.zeros_like(gamma))
        onehot = (lat.ext[:, :, None] == xp.arange(c)[None, None, :]).astype(lp.dtype)  # (N, S, C)
        return (-xp.matmul(post.astype(lp.dtype, copy=False), onehot)).astype(lp.dtype, copy=False)

    # ------------------------------------------------------------------ host-side ops
    def ctc_decode(self, lp, input_length, greedy, beam_width, top_paths, merge_repeated):
        """(decoded (top_paths, N, max_len) int64 with -1 padding, log-probabilities (N, top_paths))."""
        host = np.asarray(self.to_numpy(lp, False), dtype=np.float64)
        lengths = np.asarray(self.to_numpy(input_length, False)).reshape(-1).astype(np.int64)
        n, t, _ = host.shape
        if lengths.shape[0] != n:
            raise ValueError(f"ctc_decode: batch of {n} but {lengths.shape[0]} input lengths")
        if np.any(lengths < 0) or np.any(lengths > t):
            raise ValueError(f"ctc_decode: input lengths must lie in [0, {t}] (the time axis of y_pred)")
        paths, scores = [], []
        for b in range(n):
            seq = host[b, :lengths[b]]
            if greedy:
                p, s = greedy_decode(seq)
                paths.append([p])
                scores.append([s])
            else:
                p, s = beam_decode(seq, beam_width, top_paths, merge_repeated)
                paths.append(p)
                scores.append(s)
        npaths = 1 if greedy else top_paths
        width = max([len(p) for sample in paths for p in sample] + [0])
        dec = np.full((npaths, n, width), -1, dtype=np.int64)
        for b, sample in enumerate(paths):
            for i, p in enumerate(sample):
                dec[i, b, :len(p)] = p
        logp = np.asarray(scores, dtype=lp.dtype).reshape(n, npaths)
        return self.from_numpy(dec), self.from_numpy(logp)

    def ctc_path(self, decoded, index):
        """Path `index` of ctc_decode's output, cut to its longest sequence in the batch."""
        host = np.asarray(self.to_numpy(decoded, False))[index]
        width = int((host != -1).sum(axis=1).max()) if host.size else 0
        return self.from_numpy(np.ascontiguousarray(host[:, :width]))

    def ctc_dense_to_sparse(self, labels, label_lengths):
        """(indices (M, 2) int64, values (M,), dense_shape (2,) int64) of the first label_lengths[n]
        entries of every row of labels."""
        host = np.asarray(self.to_numpy(labels, False))
        lengths = np.asarray(self.to_numpy(label_lengths, False)).reshape(-1).astype(np.int64)
        if host.ndim != 2:
            raise ValueError(f"ctc_label_dense_to_sparse: labels must be (batch, max_len), got shape {host.shape}")
        mask = np.arange(host.shape[1])[None, :] < lengths[:, None]
        rows, cols = np.nonzero(mask)
        indices = np.stack([rows, cols], axis=1).astype(np.int64).reshape(-1, 2)
        return (self.from_numpy(indices), self.from_numpy(np.ascontiguousarray(host[rows, cols])),
                self.from_numpy(np.asarray(host.shape, dtype=np.int64)))


# ---------------------------------------------------------------------------------------------
# host decoders (NumPy, one sample (T, C) of log-probabilities at a time)


def greedy_decode(seq):
    """Best path: argmax per step, repeats merged, blanks dropped. The score is TensorFlow's:
    minus the sum of the per-step maximum log-probabilities."""
    if seq.shape[0] == 0:
        return [], 0.0
    blank = seq.shape[1] - 1
    best = np.argmax(seq, axis=1)
    out, prev = [], -1
    for k in best.tolist():
        if k != blank and k != prev:
            out.append(k)
        prev = k
    return out, float(-np.sum(np.max(seq, axis=1)))


def _lse2(a, b):
    m = np.maximum(a, b)
    shift = np.where(np.isneginf(m), 0.0, m)
    with np.errstate(divide="ignore"):
        return shift + np.log(np.exp(a - shift) + np.exp(b - shift))


def beam_decode(seq, beam_width, top_paths, merge_repeated):
    """CTC prefix beam search (the algorithm of TensorFlow's ctc_beam_search_decoder): every prefix
    keeps the log-probability of its alignments ending in a blank and in its last label; identical
    prefixes merge; the `beam_width` best prefixes survive each step. Returns the `top_paths` best
    label sequences and their log-probabilities (sequences of -inf score when fewer prefixes exist).
    Each step's scores are first normalised with a log-softmax over the classes."""
    t_len, c = seq.shape
    if t_len:  # every step normalised over the classes (log-softmax), as TensorFlow does
        m = np.max(seq, axis=1, keepdims=True)
        m = np.where(np.isfinite(m), m, 0.0)
        seq = seq - (m + np.log(np.sum(np.exp(seq - m), axis=1, keepdims=True)))
    blank = c - 1
    nlab = blank
    prefixes = [()]
    pb = np.array([0.0])
    pnl = np.array([-np.inf])
    labels = np.arange(nlab)
    for t in range(t_len):
        y = seq[t]
        total = _lse2(pb, pnl)
        last = np.array([p[-1] if p else -1 for p in prefixes])
        # staying on the same prefix: a blank, or a repeat of the last label
        new_pb = total + y[blank]
        rep = np.where(last >= 0, pnl + y[np.maximum(last, 0)], -np.inf)
        # extending a prefix by a label (after a blank when the label repeats the last one)
        ext = np.where(labels[None, :] == last[:, None], pb[:, None], total[:, None]) + y[None, :nlab]
        new_pnl = rep
        index = {p: i for i, p in enumerate(prefixes)}
        for j, p in enumerate(prefixes):  # extensions that are already in the beam merge into it
            if p:
                parent = index.get(p[:-1])
                if parent is not None:
                    new_pnl[j] = _lse2(new_pnl[j], ext[parent, p[-1]])
                    ext[parent, p[-1]] = -np.inf
        cand_score = np.concatenate([_lse2(new_pb, new_pnl), ext.reshape(-1)])
        order = np.argsort(-cand_score, kind="stable")
        keep = [k for k in order[:beam_width] if np.isfinite(cand_score[k])]
        nb = len(prefixes)
        next_prefixes, next_pb, next_pnl = [], [], []
        for k in keep:
            if k < nb:
                next_prefixes.append(prefixes[k])
                next_pb.append(new_pb[k])
                next_pnl.append(new_pnl[k])
            else:
                parent, lab = divmod(k - nb, nlab)
                next_prefixes.append(prefixes[parent] + (lab,))
                next_pb.append(-np.inf)
                next_pnl.append(ext[parent, lab])
        if not keep:  # every path impossible: keep the empty prefix with -inf score
            next_prefixes, next_pb, next_pnl = [()], [-np.inf], [-np.inf]
        prefixes, pb, pnl = next_prefixes, np.array(next_pb), np.array(next_pnl)
    score = _lse2(pb, pnl)
    order = np.argsort(-score, kind="stable")[:top_paths]
    paths = []
    for k in order:
        p = list(prefixes[k])
        if merge_repeated:
            p = [v for i, v in enumerate(p) if i == 0 or v != p[i - 1]]
        paths.append(p)
    scores = [float(score[k]) for k in order]
    while len(paths) < top_paths:
        paths.append([])
        scores.append(-np.inf)
    return paths, scores
