/* Empty until the featureset model lands (issue 5); keeps the archive valid. */
extern int cpuid_policy_placeholder;
int cpuid_policy_placeholder;
