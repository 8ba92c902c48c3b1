"""One GGUF model decoding many calls together: continuous batching over llama.cpp's sequences.

A ``Decoder`` owns a llama.cpp model and context and one worker thread. Calls are queued; the worker
admits each into a free sequence (a ``slot``, with its own KV stream of ``context`` cells), and every
step evaluates the next prompt chunk of the oldest call still reading its prompt, then decodes the last
sampled token of every generating call together. Each sequence samples with its own grammar and its own
seeded sampler.

Prompt tokens another sequence has already evaluated (the question, answers and transcript the jurors
of a jury share) are not evaluated again: their KV cells are copied (``seq_cp``), waiting for that
sequence to evaluate them when it is still reading. A finished call's prompt stays in its slot as a kept
prefix for later calls (a re-ask, the next juror) until the slot is needed: KV state is reused instead
of reset.

llama.cpp's numerics depend on how many rows a decode call holds (its matrix kernels tile by that
count; measured classes without weight repacking and flash attention: 1 row, 2-7 rows, 8 or more) and
on where a sequence's cells sit in the cache. The decoder fixes both, so that a seeded call's reply does
not depend on what else is in its batch, nor on whether it reused a prefix: each slot has its own KV
stream, filled from cell 0 (fixed slots); a prompt is evaluated alone, in calls of at least
``PROMPT_ROWS`` rows; generated tokens go in calls of 2 to ``GEN_ROWS`` rows (a lone one beside a
scratch row); weights are not repacked and flash attention is off; a shared prefix is copied stream to
stream. (One cache shared by all sequences, with prompt and generated rows in the same calls, is what
this replaced: it was no faster once kept prefixes spread over the cache, and a seeded call repeated
could change its reply.)

A call's timeout counts the time the model spends on it: the steps that evaluate its own prompt, and its
share of each decode call that holds its row (the call's time divided among the calls decoded in it); not the
time it waits in the queue, nor the steps that evaluate other calls' prompts while it waits to generate. An
expired or cancelled call stops at the next step and frees its cells.

A reply caught in a loop (greedy decoding of a small model can repeat the same sentences until the token limit) is
stopped as soon as its last ``2 × L`` tokens are one block of ``L >= LOOP_TOKENS`` tokens twice: the reply keeps the
block once and ends with ``finish_reason`` ``"repetition"``, so that a structured call is re-asked at once instead of
after spending the rest of its token budget.
"""

from __future__ import annotations

import ctypes
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agora.errors import BackendError, BackendTimeout, ConfigError
from agora.types import TokenLogprob

PROMPT_CHUNK = 64  # prompt rows evaluated per step: a step (and so a timeout's check) takes about a second on 2 cores
PROMPT_ROWS = 8  # fewest rows of a prompt call (8 or more is one numerics class)
GEN_ROWS = 7  # most rows of a generation call (2..7 is one numerics class)
LOOP_TOKENS = 32  # the shortest block whose immediate repetition ends a reply as a loop
TOP_LOGPROBS = 10  # alternatives recorded per generated token, among those the grammar allows


@dataclass
class Request:
    """One call: a tokenised prompt and how to sample its reply."""

    prompt: list[int]
    max_tokens: int
    temperature: float = 0.0
    seed: int | None = None
    grammar: str | None = None
    stop: tuple[str, ...] = ()
    timeout: float = 300.0
    logprobs: bool = False
    future: Future[Reply] = field(default_factory=Future)
    cancelled: bool = False


@dataclass(frozen=True)
class Reply:
    """What a call produced and what it cost."""

    text: str
    finish_reason: str  # "stop", "length" or "repetition" (see ``looped``)
    prompt_tokens: int
    reused_tokens: int  # prompt tokens whose cells were shared, not evaluated
    completion_tokens: int
    seconds: float  # from admission to the last token
    logprobs: tuple[TokenLogprob, ...] = ()


@dataclass
class _Sequence:
    """A request being decoded in a slot (a llama.cpp sequence id)."""

    request: Request
    slot: int
    admitted: float
    spent: float = 0.0  # its share of the seconds of the llama.cpp calls it took part in (what its timeout counts)
    n_past: int = 0  # tokens in the KV cache for this slot
    shared: int = 0  # prompt tokens taken from another slot
    follow: tuple[_Sequence, int] | None = None  # wait for that sequence to evaluate this many shared tokens
    pending: int | None = None  # the sampled token not yet fed back
    out: list[int] = field(default_factory=list)
    text: bytes = b""
    logprobs: list[TokenLogprob] = field(default_factory=list)
    samplers: _Samplers | None = None

    @property
    def prompt(self) -> list[int]:
        return self.request.prompt

    @property
    def prefilling(self) -> bool:
        return self.follow is None and self.n_past < len(self.prompt)


class _Samplers:
    """A sequence's grammar (if any) and its pick (greedy, or temperature and a seeded draw)."""

    def __init__(self, llama: Any, vocab: Any, request: Request) -> None:
        self._llama = llama
        self.grammar = None
        if request.grammar is not None:
            self.grammar = llama.llama_sampler_init_grammar(vocab, request.grammar.encode(), b"root")
            if not self.grammar:
                raise BackendError("the output schema gives a grammar llama.cpp cannot parse")
        self.pick = llama.llama_sampler_chain_init(llama.llama_sampler_chain_default_params())
        if request.temperature == 0:
            llama.llama_sampler_chain_add(self.pick, llama.llama_sampler_init_greedy())
        else:
            seed = request.seed if request.seed is not None else llama.LLAMA_DEFAULT_SEED
            llama.llama_sampler_chain_add(self.pick, llama.llama_sampler_init_temp(request.temperature))
            llama.llama_sampler_chain_add(self.pick, llama.llama_sampler_init_dist(seed & 0xFFFFFFFF))

    def free(self) -> None:
        for sampler in (self.grammar, self.pick):
            if sampler:
                self._llama.llama_sampler_free(sampler)
        self.grammar = self.pick = None


class _Candidates:
    """A reusable llama.cpp token-data array over the whole vocabulary, and a one-token one."""

    def __init__(self, llama: Any, n_vocab: int) -> None:
        self.n_vocab = n_vocab
        self.data = (llama.llama_token_data * n_vocab)()
        self.view = np.ctypeslib.as_array(self.data).view(
            np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)])
        )
        self.array = llama.llama_token_data_array(self.data, n_vocab, -1, False)
        self.pointer = ctypes.pointer(self.array)
        self.one = (llama.llama_token_data * 1)()
        self.one_array = llama.llama_token_data_array(self.one, 1, -1, False)
        self.one_pointer = ctypes.pointer(self.one_array)
        self.ids = np.arange(n_vocab, dtype=np.int32)

    def fill(self, logits: np.ndarray) -> Any:
        self.view["id"] = self.ids
        self.view["logit"] = logits
        self.view["p"] = 0
        self.array.size, self.array.selected, self.array.sorted = self.n_vocab, -1, False
        return self.pointer

    def selected(self) -> int:
        return int(self.data[self.array.selected].id)

    def allows(self, llama: Any, grammar: Any, token: int, logit: float) -> bool:
        self.one[0].id, self.one[0].logit, self.one[0].p = token, logit, 0.0
        self.one_array.size, self.one_array.selected, self.one_array.sorted = 1, -1, False
        llama.llama_sampler_apply(grammar, self.one_pointer)
        return not math.isinf(self.one[0].logit)


class Decoder:
    """Decodes the calls on one GGUF model together, in a worker thread.

    Args:
        path: the GGUF file.
        context: the most tokens (prompt and reply) one call may hold.
        slots: the most calls decoded together; more wait in a queue.
        threads: CPU threads (default: ``$AGORA_THREADS`` or every core).
    """

    def __init__(self, path: Path, *, context: int = 8192, slots: int = 4, threads: int = 0) -> None:
        try:
            import llama_cpp
        except ImportError:
            raise ConfigError("the local backend needs llama-cpp-python: pip install 'agora[local]'") from None
        from llama_cpp._logger import logger
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        logger.setLevel(logging.CRITICAL)  # llama.cpp's own log; failures reach the caller as errors

        self._llama = llama_cpp
        self.path, self.context, self.slots = path, context, slots
        threads = threads or int(os.environ.get("AGORA_THREADS", 0)) or os.cpu_count() or 1
        llama_cpp.llama_backend_init()
        model_params = llama_cpp.llama_model_default_params()
        model_params.use_extra_bufts = False  # repacked weights tile rows by their index in the call
        self._model = llama_cpp.llama_model_load_from_file(str(path).encode(), model_params)
        if not self._model:
            raise ConfigError(f"local model file {path}: llama.cpp could not load it")
        self._vocab = llama_cpp.llama_model_get_vocab(self._model)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(self._vocab)
        self.cells = context * (slots + 1)  # a stream of ``context`` cells per slot, and the scratch one
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = self.cells
        params.n_batch = params.n_ubatch = PROMPT_CHUNK + max(slots, PROMPT_ROWS) + 1
        params.n_seq_max = slots + 1  # the last sequence id holds scratch rows
        params.kv_unified = False  # fixed slots: each sequence's cells from cell 0 of its own stream
        params.n_threads = params.n_threads_batch = threads
        params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED  # its kernels add a class at 64 rows
        self._ctx = llama_cpp.llama_init_from_model(self._model, params)
        if not self._ctx:
            llama_cpp.llama_model_free(self._model)
            raise BackendError(f"local model {path.name}: llama.cpp could not make a context of {self.cells} cells")
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self._batch = llama_cpp.llama_batch_init(params.n_batch, 0, 1)
        self._scratch = slots
        self._candidates = _Candidates(llama_cpp, self.n_vocab)
        metadata = _metadata(llama_cpp, self._model)
        self._formatter: Any = Jinja2ChatFormatter(
            template=metadata.get("tokenizer.chat_template") or _CHATML,
            eos_token=self._piece(llama_cpp.llama_vocab_eos(self._vocab)).decode(errors="replace"),
            bos_token=self._piece(llama_cpp.llama_vocab_bos(self._vocab)).decode(errors="replace"),
        )
        self._add_bos = bool(llama_cpp.llama_vocab_get_add_bos(self._vocab))
        self._queue: deque[Request] = deque()
        self._active: list[_Sequence] = []
        self._kept: dict[int, list[int]] = {}  # idle slot -> prompt tokens still in its cells, oldest first
        self._wake = threading.Condition()
        self._closed = False
        self.evaluated = 0  # prompt rows evaluated since the decoder started (for benchmarks)
        self._thread = threading.Thread(target=self._work, name=f"agora-decoder-{path.stem}", daemon=True)
        self._thread.start()

    # -- the caller's side
    def tokens(self, messages: Sequence[dict[str, str]]) -> list[int]:
        """The prompt tokens of a chat, formatted with the model's own chat template."""
        prompt = self._formatter(messages=list(messages)).prompt
        return self._tokenize(prompt)

    def submit(self, request: Request) -> Future[Reply]:
        """Queue ``request``; its future resolves to a ``Reply`` or raises a ``BackendError``."""
        with self._wake:
            if self._closed:
                raise BackendError(f"local model {self.path.name}: the decoder is closed")
            self._queue.append(request)
            self._wake.notify()
        return request.future

    def cancel(self, request: Request) -> None:
        """Stop ``request`` at the next step (or drop it from the queue) and free its cells."""
        with self._wake:
            request.cancelled = True
            self._wake.notify()

    def close(self) -> None:
        """Stop the worker, fail what is left, and free the model."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join()
        llama = self._llama
        llama.llama_batch_free(self._batch)
        llama.llama_free(self._ctx)
        llama.llama_model_free(self._model)

    # -- the worker
    def _work(self) -> None:
        while True:
            with self._wake:
                while not self._closed and not self._queue and not self._active:
                    self._wake.wait()
                if self._closed:
                    break
            try:
                self._step()
            except Exception as exc:
                for seq in list(self._active):
                    self._fail(seq, BackendError(f"local model {self.path.name}: {exc}"))
        for seq in list(self._active):
            self._fail(seq, BackendError(f"local model {self.path.name}: the decoder closed"))
        with self._wake:
            for request in self._queue:
                _settle(request, BackendError(f"local model {self.path.name}: the decoder closed"))
            self._queue.clear()

    def _step(self) -> None:
        now = time.perf_counter()
        for seq in list(self._active):
            request = seq.request
            if request.cancelled:
                self._fail(seq, BackendError("cancelled"))
            elif seq.spent > request.timeout:
                self._fail(seq, _timeout(self.path.name, request.timeout))
        self._admit(now)
        for seq in self._active:
            if seq.follow is not None:
                self._catch_up(seq)
        prompt_rows = self._prompt_chunk()
        if prompt_rows:
            readers = list({id(seq): seq for seq, _ in prompt_rows}.values())  # a row each: charge each call once
            _charged(readers, self._decode, [], prompt_rows, 0)
        generating = [s for s in self._active if s.pending is not None]
        for start in range(0, len(generating), GEN_ROWS):
            batch = generating[start : start + GEN_ROWS]
            _charged(batch, self._decode, batch, [], 2)

    def _admit(self, now: float) -> None:
        """Move queued requests into free slots (each slot's stream holds a whole call)."""
        with self._wake:
            while self._queue:
                request = self._queue[0]
                if request.cancelled:
                    self._queue.popleft()
                    _settle(request, BackendError("cancelled"))
                    continue
                if len(request.prompt) >= self.context:
                    self._queue.popleft()
                    _settle(
                        request,
                        BackendError(
                            f"local model {self.path.name}: the prompt is {len(request.prompt)} tokens; "
                            f"a call holds at most {self.context} (prompt and reply)"
                        ),
                    )
                    continue
                if len(self._active) >= self.slots:
                    return
                self._queue.popleft()
                self._start(request, now)

    def _start(self, request: Request, now: float) -> None:
        prompt = request.prompt
        best_slot, best = None, 0
        for slot, tokens in self._kept.items():
            n = _common(tokens, prompt)
            if n > best:
                best_slot, best = slot, n
        source, shared = None, 0
        for seq in self._active:
            n = _common(seq.prompt, prompt)
            if n > max(shared, best):
                source, shared = seq, n
        used = {s.slot for s in self._active}
        if source is None and best_slot is not None:
            slot = best_slot
            keep = self._shareable(best, prompt)
            self._llama.llama_memory_seq_rm(self._memory, slot, keep, -1)
            del self._kept[slot]
            seq = _Sequence(request, slot, now, n_past=keep, shared=keep)
        else:
            free = [s for s in range(self.slots) if s not in used and s not in self._kept]
            slot = free[0] if free else next(iter(self._kept))
            if slot in self._kept:
                self._drop_kept(slot)
            seq = _Sequence(request, slot, now)
            if source is not None and self._shareable(shared, prompt) > 0:
                seq.follow = (source, self._shareable(shared, prompt))
        try:
            seq.samplers = _Samplers(self._llama, self._vocab, request)
        except BackendError as exc:
            self._llama.llama_memory_seq_rm(self._memory, slot, -1, -1)
            _settle(request, exc)
            return
        self._active.append(seq)

    def _catch_up(self, seq: _Sequence) -> None:
        """Copy the shared prefix from the followed sequence once it has evaluated it (or gave up)."""
        assert seq.follow is not None
        source, length = seq.follow
        alive = source in self._active
        done = source.n_past if not alive or source.pending is not None else min(source.n_past, len(source.prompt))
        if alive and done < length:
            return
        length = min(length, done)
        if length > 0:  # streams copy whole: copy, then cut after the shared prefix
            self._llama.llama_memory_seq_cp(self._memory, source.slot, seq.slot, -1, -1)
            self._llama.llama_memory_seq_rm(self._memory, seq.slot, length, -1)
        seq.n_past = seq.shared = length
        seq.follow = None

    def _shareable(self, common: int, prompt: list[int]) -> int:
        """How much of a common prefix a call may take: it must evaluate at least ``PROMPT_ROWS`` prompt rows, so
        that its last prompt call is in the same class as when it runs alone."""
        return max(0, min(common, len(prompt) - PROMPT_ROWS))

    def _prompt_chunk(self) -> list[tuple[_Sequence, int]]:
        """The next prompt rows of the oldest prefilling call, alone, never leaving it a last call of fewer than
        ``PROMPT_ROWS`` rows."""
        for seq in self._active:
            if seq.prefilling:
                left = len(seq.prompt) - seq.n_past
                take = left if left < PROMPT_CHUNK + PROMPT_ROWS else PROMPT_CHUNK
                return [(seq, seq.n_past + i) for i in range(take)]
        return []

    def _decode(self, generating: list[_Sequence], prompt_rows: list[tuple[_Sequence, int]], pad_to: int) -> None:
        llama, batch = self._llama, self._batch
        batch.n_tokens = 0
        outputs: list[tuple[_Sequence, int]] = []
        for seq in generating:
            outputs.append((seq, self._add(seq.pending, seq.n_past, seq.slot, True)))  # type: ignore[arg-type]
        for seq, pos in prompt_rows:
            last = pos == len(seq.prompt) - 1
            row = self._add(seq.prompt[pos], pos, seq.slot, last)
            if last:
                outputs.append((seq, row))
        for i in range(max(0, pad_to - batch.n_tokens)):
            self._add(0, i, self._scratch, False)
        status = llama.llama_decode(self._ctx, batch)
        llama.llama_memory_seq_rm(self._memory, self._scratch, -1, -1)
        if status != 0:
            self._recover(status, generating, prompt_rows)
            return
        for seq in generating:
            seq.n_past += 1
            seq.pending = None
        for seq, _ in prompt_rows:
            seq.n_past += 1
        self.evaluated += len(prompt_rows)
        for seq, row in outputs:
            if seq in self._active:
                self._sample(seq, row)

    def _add(self, token: int, pos: int, slot: int, logits: bool) -> int:
        batch = self._batch
        i = batch.n_tokens
        batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, pos, 1
        batch.seq_id[i][0] = slot
        batch.logits[i] = logits
        batch.n_tokens = i + 1
        return i

    def _recover(self, status: int, generating: list[_Sequence], rows: list[tuple[_Sequence, int]]) -> None:
        """A failed decode fails the newest call in it; the others go on at the next step."""
        involved = [*generating, *(s for s, _ in rows)]
        victim = max(involved, key=lambda s: s.admitted)
        self._fail(victim, BackendError(f"local model {self.path.name}: llama_decode failed ({status})"))

    def _sample(self, seq: _Sequence, row: int) -> None:
        """Sample ``seq``'s next token from ``row``'s logits, and finish the call when it is done."""
        llama, request, samplers = self._llama, seq.request, seq.samplers
        assert samplers is not None
        logits = np.ctypeslib.as_array(llama.llama_get_logits_ith(self._ctx, row), shape=(self.n_vocab,))
        candidates = self._candidates
        grammar = samplers.grammar
        if request.logprobs:
            token = self._sample_with_logprobs(seq, logits)
        else:
            llama.llama_sampler_apply(samplers.pick, candidates.fill(logits))
            token = candidates.selected()
            if grammar is not None and not candidates.allows(llama, grammar, token, float(logits[token])):
                pointer = candidates.fill(logits)
                llama.llama_sampler_apply(grammar, pointer)
                llama.llama_sampler_apply(samplers.pick, pointer)
                token = candidates.selected()
        if grammar is not None:
            llama.llama_sampler_accept(grammar, token)
        llama.llama_sampler_accept(samplers.pick, token)
        if llama.llama_vocab_is_eog(self._vocab, token):
            self._finish(seq, "stop")
            return
        seq.out.append(token)
        seq.text += self._piece(token)
        text = seq.text.decode(errors="ignore")
        for stop in request.stop:
            if stop and stop in text:
                seq.text = text[: text.index(stop)].encode()
                self._finish(seq, "stop")
                return
        if len(seq.out) >= request.max_tokens or seq.n_past + 1 >= self.context:
            self._finish(seq, "length")
            return
        block = looped(seq.out)
        if block:
            del seq.out[-block:], seq.logprobs[len(seq.out) :]
            seq.text = b"".join(self._piece(t) for t in seq.out)
            self._finish(seq, "repetition")
            return
        seq.pending = token

    def _sample_with_logprobs(self, seq: _Sequence, logits: np.ndarray) -> int:
        """Sample after the grammar masks the whole vocabulary, and record the token's log-probability (over the
        raw logits, as an API reports it) with the likeliest alternatives the grammar allows."""
        llama, samplers, candidates = self._llama, seq.samplers, self._candidates
        assert samplers is not None
        raw = logits.astype(np.float64)
        logsoftmax = raw - (raw.max() + np.log(np.exp(raw - raw.max()).sum()))
        pointer = candidates.fill(logits)
        if samplers.grammar is not None:
            llama.llama_sampler_apply(samplers.grammar, pointer)
        allowed = np.flatnonzero(np.isfinite(candidates.view["logit"]))
        llama.llama_sampler_apply(samplers.pick, pointer)
        token = candidates.selected()
        top = allowed[np.argsort(-raw[allowed], kind="stable")[:TOP_LOGPROBS]]
        piece = self._piece(token).decode(errors="replace")
        seq.logprobs.append(
            TokenLogprob(
                token=piece,
                logprob=float(logsoftmax[token]),
                top={self._piece(int(t)).decode(errors="replace"): float(logsoftmax[t]) for t in top},
            )
        )
        return token

    def _finish(self, seq: _Sequence, reason: str) -> None:
        request = seq.request
        reply = Reply(
            text=seq.text.decode(errors="replace"),
            finish_reason=reason,
            prompt_tokens=len(seq.prompt),
            reused_tokens=seq.shared,
            completion_tokens=len(seq.out),
            seconds=time.perf_counter() - seq.admitted,
            logprobs=tuple(seq.logprobs),
        )
        self._release(seq, keep=True)
        _settle(request, reply)

    def _fail(self, seq: _Sequence, error: BackendError) -> None:
        self._release(seq, keep=False)
        _settle(seq.request, error)

    def _release(self, seq: _Sequence, keep: bool) -> None:
        """Free ``seq``'s slot; keep its evaluated prompt cells as a prefix for later calls."""
        self._active.remove(seq)
        if seq.samplers is not None:
            seq.samplers.free()
        for other in self._active:  # a follower of this sequence copies what it has
            if other.follow is not None and other.follow[0] is seq:
                self._catch_up(other)
        evaluated = min(seq.n_past, len(seq.prompt))
        if keep and evaluated > 0:
            self._llama.llama_memory_seq_rm(self._memory, seq.slot, evaluated, -1)
            self._kept[seq.slot] = seq.prompt[:evaluated]
        else:
            self._llama.llama_memory_seq_rm(self._memory, seq.slot, -1, -1)

    def _drop_kept(self, slot: int) -> None:
        self._llama.llama_memory_seq_rm(self._memory, slot, -1, -1)
        del self._kept[slot]

    # -- tokens
    def _tokenize(self, text: str) -> list[int]:
        llama = self._llama
        data = text.encode()
        size = len(data) + 8
        buffer = (llama.llama_token * size)()
        n = llama.llama_tokenize(self._vocab, data, len(data), buffer, size, self._add_bos, True)
        if n < 0:
            raise BackendError(f"local model {self.path.name}: could not tokenise the prompt")
        return list(buffer[:n])

    def _piece(self, token: int) -> bytes:
        buffer = ctypes.create_string_buffer(64)
        n = self._llama.llama_token_to_piece(self._vocab, token, buffer, 64, 0, False)
        return buffer.raw[: max(n, 0)]


_CHATML = (
    "{% for message in messages %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{{ '<|im_start|>assistant\n' }}"
)


def _metadata(llama: Any, model: Any) -> dict[str, str]:
    """The GGUF metadata strings of ``model`` (the chat template among them)."""
    out = {}
    buffer = ctypes.create_string_buffer(1 << 16)
    for i in range(llama.llama_model_meta_count(model)):
        if llama.llama_model_meta_key_by_index(model, i, buffer, len(buffer)) < 0:
            continue
        key = buffer.value.decode(errors="replace")
        if llama.llama_model_meta_val_str_by_index(model, i, buffer, len(buffer)) >= 0:
            out[key] = buffer.value.decode(errors="replace")
    return out


def looped(tokens: Sequence[int], shortest: int = LOOP_TOKENS) -> int:
    """The length of the block the tokens end with twice in a row (the shortest such block of at least ``shortest``
    tokens), or 0 when they do not end in a loop."""
    n, last = len(tokens), tokens[-1] if tokens else None
    for size in range(shortest, n // 2 + 1):
        if tokens[n - 1 - size] == last and tokens[n - size :] == tokens[n - 2 * size : n - size]:
            return size
    return 0


def _common(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _charged(sequences: list[_Sequence], call: Callable[..., None], *args: Any) -> None:
    """Run ``call(*args)`` (a llama.cpp decode) and charge each of ``sequences`` its share of the seconds."""
    start = time.perf_counter()
    try:
        call(*args)
    finally:
        share = (time.perf_counter() - start) / len(sequences)
        for seq in sequences:
            seq.spent += share


def _timeout(name: str, seconds: float) -> BackendTimeout:
    error = BackendTimeout(f"local model {name}: no reply within {seconds:g} s of decoding")
    error.retryable = False  # the same call on the same model would take as long again
    return error


def _settle(request: Request, outcome: Reply | BaseException) -> None:
    if request.future.done():
        return
    if isinstance(outcome, BaseException):
        request.future.set_exception(outcome)
    else:
        request.future.set_result(outcome)
