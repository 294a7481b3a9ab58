from simfocus.cli import main

main()
