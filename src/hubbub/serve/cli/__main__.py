from hubbub.serve.cli import main

main()
