"""LangChain's standard chat-model suites (``langchain-tests``) run on ``LocalChatModel``.

The unit suite needs no weights: it builds the model and reads its tracing parameters. The
integration suite runs the packaged Qwen2.5-Coder-0.5B-Instruct, greedy and with a few new
tokens per answer, so the ~20 generations it asks for stay short on a CPU. Features a local
chat-template model does not have are switched off through the suite's own properties.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests

from babelrag.chains.generator import Decoding, LocalChatModel, TransformersChatModel
from babelrag.chains.llama_cpp import LlamaCppChatModel

#: Enough for a non-empty greeting; a call then takes about half a second on two CPU cores.
MAX_NEW_TOKENS = 8


class _LocalChatModelSuite:
    """What a local chat-template model does and does not do, in the suite's own terms."""

    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return TransformersChatModel

    @property
    def has_tool_calling(self) -> bool:
        return False  # a local chat-template model without a tool parser: no bind_tools

    @property
    def has_tool_choice(self) -> bool:
        return False  # no tool calling, so nothing to choose from

    @property
    def has_structured_output(self) -> bool:
        return False  # no with_structured_output: nothing constrains free text to a schema

    @property
    def supports_model_override(self) -> bool:
        return False  # one loaded model: a per-call model name cannot swap the weights

    @property
    def returns_usage_metadata(self) -> bool:
        return True  # token counts come from the tokenizer, on invoke and on the last stream chunk


@pytest.mark.unit
class TestLocalChatModelUnit(_LocalChatModelSuite, ChatModelUnitTests):
    @property
    def chat_model_params(self) -> dict[str, Any]:
        # construction and tracing parameters touch neither the model nor the tokenizer
        return {"model": None, "tokenizer": None, "model_id": "test/local-chat"}


@pytest.mark.integration
@pytest.mark.slow
class TestLocalChatModelIntegration(_LocalChatModelSuite, ChatModelIntegrationTests):
    """The packaged Qwen through the suite; the weights are the session's, loaded once."""

    generator: LocalChatModel

    @pytest.fixture(autouse=True)
    def _bind_generator(self, qwen_chat_model: LocalChatModel) -> None:
        self.generator = qwen_chat_model

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {
            "model": self.generator.model,
            "tokenizer": self.generator.tokenizer,
            "model_id": self.generator.model_id,
            "decoding": Decoding(max_new_tokens=MAX_NEW_TOKENS),
        }


class _LlamaCppSuite(_LocalChatModelSuite):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return LlamaCppChatModel


@pytest.mark.unit
class TestLlamaCppChatModelUnit(_LlamaCppSuite, ChatModelUnitTests):
    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"llama": None, "model_id": "test/gguf"}  # construction touches no model


@pytest.mark.integration
@pytest.mark.slow
class TestLlamaCppChatModelIntegration(_LlamaCppSuite, ChatModelIntegrationTests):
    """The packaged 0.5B GGUF on llama.cpp through the suite; one context for the session."""

    generator: LlamaCppChatModel

    @pytest.fixture(autouse=True)
    def _bind_generator(self, llama_chat_model: LlamaCppChatModel) -> None:
        self.generator = llama_chat_model

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {
            "llama": self.generator.llama,
            "model_id": self.generator.model_id,
            "context_tokens": self.generator.context_tokens,
            "decoding": Decoding(max_new_tokens=MAX_NEW_TOKENS),
        }
