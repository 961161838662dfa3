"""Knowledge items, embedders and the FAISS knowledge base (see docs/memory.md)."""

from memory.embedders import ImageEmbedder, MiniLMTextEmbedder, OpenClipImageEmbedder, TextEmbedder
from memory.item import KnowledgeItem
from memory.store import KnowledgeBase, open_knowledge_base

__all__ = [
    "ImageEmbedder",
    "KnowledgeBase",
    "KnowledgeItem",
    "MiniLMTextEmbedder",
    "OpenClipImageEmbedder",
    "TextEmbedder",
    "open_knowledge_base",
]
