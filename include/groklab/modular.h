/* groklab: modular arithmetic on residues mod p (64-bit, no overflow for
 * any p below 2^31). */
#ifndef GROKLAB_MODULAR_H
#define GROKLAB_MODULAR_H

#ifdef __cplusplus
extern "C" {
#endif

/* Whether p is prime. */
int gl_is_prime(long p);
/* b^e mod m (m >= 1). */
long gl_powmod(long b, long e, long m);
/* n^-1 mod p for prime p and n not a multiple of p (Fermat: n^(p-2)). */
long gl_inverse_mod(long n, long p);
/* x mod p in [0, p), for any sign of x. */
long gl_mod(long x, long p);
/* The smallest primitive root of p, or -1 if p is not a prime >= 3. */
int gl_primitive_root(int p);

#ifdef __cplusplus
}
#endif

#endif
