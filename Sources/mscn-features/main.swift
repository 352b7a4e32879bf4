FeaturesCommand.main()
