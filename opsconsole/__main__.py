from opsconsole.cli import main

main()
