from mlcycle.app.cli import main

main()
