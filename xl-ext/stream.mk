# xl-ext subcommands of the stream room.
xl_ext_SOURCES += cmd_stream_dump.c
