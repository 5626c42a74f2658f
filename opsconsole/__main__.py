from opsconsole.cli.app import main

main()
