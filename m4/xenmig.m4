# XENMIG_REQUIRE(VAR, PKG-CONFIG-MODULE, DEBIAN-PACKAGE)
# pkg-config check whose failure is one line naming the Debian package.
AC_DEFUN([XENMIG_REQUIRE], [
    PKG_CHECK_MODULES([$1], [$2], [],
        [AC_MSG_ERROR([$2 not found by pkg-config: install the Debian package '$3' (apt-get install $3, or scripts/install-deps)])])
])

# AX_PTHREAD_SIMPLE: glibc >= 2.34 has pthreads in libc; -pthread is enough.
AC_DEFUN([AX_PTHREAD_SIMPLE], [
    PTHREAD_CFLAGS="-pthread"
    PTHREAD_LIBS="-pthread"
    AC_SUBST([PTHREAD_CFLAGS])
    AC_SUBST([PTHREAD_LIBS])
])
