IngestCommand.main()
