"""The fastnn model zoo: each model is a fastnn.keras.Model (so compile/fit/evaluate/summary/save work)
built from fastnn.nn modules, PyTorch style: classifiers return logits, so compile them with
`loss=fastnn.keras.losses.SparseCategoricalCrossentropy(from_logits=True)`.

- MLP
- ConvNet (VGG-style), LeNet, ResNet (small) — NCHW images
- LSTMClassifier, GRUClassifier — (N, L, F) features or (N, L) token ids
- TransformerClassifier (encoder), Seq2SeqTransformer (encoder-decoder)
- CharGPT — character-level decoder-only LM with sampling
- DCGAN — ConvTranspose2d generator, Conv2d discriminator
- BertModel, SentenceEncoder, SentenceClassifier — pretrained BERT (all-MiniLM-L6-v2) sentence embeddings and
  fine-tuning (fastnn.nn modules, not keras Models; see fastnn.models.bert)
"""
from .bert import BertModel, SentenceClassifier, SentenceEncoder  # noqa: F401
from .cnn import BasicBlock, ConvNet, LeNet, ResNet  # noqa: F401
from .gan import DCGAN, Discriminator, Generator  # noqa: F401
from .gpt import CharGPT  # noqa: F401
from .mlp import MLP  # noqa: F401
from .rnn import GRUClassifier, LSTMClassifier  # noqa: F401
from .transformer import Seq2SeqTransformer, TransformerClassifier  # noqa: F401

__all__ = ["MLP", "ConvNet", "LeNet", "ResNet", "BasicBlock", "LSTMClassifier", "GRUClassifier", "TransformerClassifier",
           "Seq2SeqTransformer", "CharGPT", "DCGAN", "Generator", "Discriminator", "BertModel", "SentenceEncoder",
           "SentenceClassifier"]
