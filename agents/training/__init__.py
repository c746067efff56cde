"""Training the retriever: parallel data from gettext catalogs (:mod:`.parallel`), multilingual
knowledge distillation into a fast student (:mod:`.distill`), and adapting it to a knowledge base
with the generator as the teacher (:mod:`.kb_data` writes the questions and LM scores,
:mod:`.kb_adapt` trains and measures)."""
