"""One module per subcommand: options, validation, one call into the library."""
