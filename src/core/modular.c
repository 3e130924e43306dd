/* groklab: modular arithmetic (see groklab/modular.h). */
#include "groklab/modular.h"

int gl_is_prime(long p) {
    if (p < 2) return 0;
    for (long d = 2; d * d <= p; d++)
        if (p % d == 0) return 0;
    return 1;
}

long gl_powmod(long b, long e, long m) {
    long r = 1 % m;
    for (b %= m; e > 0; e >>= 1, b = b * b % m)
        if (e & 1) r = r * b % m;
    return r;
}

long gl_inverse_mod(long n, long p) { return gl_powmod(n, p - 2, p); }

long gl_mod(long x, long p) { return ((x % p) + p) % p; }

int gl_primitive_root(int p) {
    if (p < 3 || !gl_is_prime(p)) return -1;
    /* g is a generator iff g^((p-1)/q) != 1 for every prime q dividing p-1 */
    int q[32], nq = 0, m = p - 1;
    for (int d = 2; d * d <= m; d++)
        if (m % d == 0) {
            q[nq++] = d;
            while (m % d == 0) m /= d;
        }
    if (m > 1) q[nq++] = m;
    for (int g = 2; g < p; g++) {
        int ok = 1;
        for (int i = 0; i < nq && ok; i++) ok = gl_powmod(g, (p - 1) / q[i], p) != 1;
        if (ok) return g;
    }
    return p == 3 ? 2 : -1;
}
