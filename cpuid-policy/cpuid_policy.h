/*
 * cpuid-policy: public header. Filled by the CPUID policy work (issue 5).
 */
#ifndef XENMIG_CPUID_POLICY_H
#define XENMIG_CPUID_POLICY_H
#endif
