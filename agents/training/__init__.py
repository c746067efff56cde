"""Training the retriever: parallel data from gettext catalogs (:mod:`.parallel`) and
multilingual knowledge distillation into a fast student (:mod:`.distill`)."""
