//! The triage binary: configuration, adapter selection, subcommands
