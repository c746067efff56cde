from babelrag.agents.cli import main

main()
