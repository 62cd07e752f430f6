# xl-ext subcommands of the stream room.
xl_ext_SOURCES += cmd_stream_dump.c stream_dump_mapped.c stream_dump_mapped.h
