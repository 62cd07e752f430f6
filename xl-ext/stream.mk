# xl-ext subcommands of the stream room.
