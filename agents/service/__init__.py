"""The HTTP service (``babelrag serve``): FastAPI app, generation queue, safety, OpenAI-compatible chat.

Modules: ``schemas`` (every request/response shape and the route table), ``app`` (building the
FastAPI app), ``errors`` (every error as JSON), ``security`` (API keys, bind rules), ``queue`` (the
one generator behind a bounded queue), ``backend`` (what each endpoint does, on the runtime),
``sse`` (Server-Sent Events), ``uploads`` (files into the data directory), ``routes_*`` (the
endpoints), ``openai_compat`` (``/v1/chat/completions``), ``client`` (the CLI's use of a running
service). Nothing here is imported by ``babelrag --help``.
"""
