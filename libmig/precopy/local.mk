# libmig/precopy: convergence policies (mig_precopy.h).
libmig_a_SOURCES += mig_precopy.h precopy/policy.c precopy/predict.c
