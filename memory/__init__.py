"""Knowledge items, embedders and the FAISS knowledge base."""

from memory.item import KnowledgeItem
from memory.store import KnowledgeBase, open_knowledge_base

__all__ = ["KnowledgeItem", "KnowledgeBase", "open_knowledge_base"]
