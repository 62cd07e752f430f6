# libmig/migrate: source and destination of one migration (mig_migrate.h).
libmig_a_SOURCES += mig_backend.h sys/mig_backend.h mig_migrate.h migrate/control.h migrate/control.c \
	migrate/cipher.h migrate/cipher.c migrate/source.c migrate/destination.c migrate/digest.c
