# Monte Carlo pricing of an Asian call option, written as a quick quant script: the random
# numbers are drawn inside the model after np.random.seed, a timer, a print, an antithetic-variates
# flag, a per-step helper, and a control-variate branch that is off.
import time

import numpy as np
from scipy.stats import norm

N_PATHS = 200
N_STEPS = 16
ANTITHETIC = True
CONTROL_VARIATE = False


def gbm_step(S, r, sigma, dt, z):
    return S * np.exp((r - 0.5 * sigma**2) * dt + sigma * np.sqrt(dt) * z)


def black_scholes_call(S0, K, r, sigma, T):
    d1 = (np.log(S0 / K) + (r + 0.5 * sigma**2) * T) / (sigma * np.sqrt(T))
    d2 = d1 - sigma * np.sqrt(T)
    return S0 * norm.cdf(d1) - K * np.exp(-r * T) * norm.cdf(d2)


def simulate(S0, r, sigma, T, seed=0, verbose=False):
    t0 = time.perf_counter()
    np.random.seed(seed)
    dt = T / N_STEPS
    n = N_PATHS // 2 if ANTITHETIC else N_PATHS
    z = np.random.standard_normal((N_STEPS, n))
    if ANTITHETIC:
        z = np.concatenate([z, -z], axis=1)
    S = np.full(z.shape[1], S0)
    running_sum = np.zeros(z.shape[1])
    for k in range(N_STEPS):
        S = gbm_step(S, r, sigma, dt, z[k])
        running_sum = running_sum + S
    if verbose:
        print(f"simulated {z.shape[1]} paths in {time.perf_counter() - t0:.3f} s")
    return running_sum / N_STEPS, S


def asian_call(S0, sigma, r=0.02, K=1.0, T=1.0):
    average, S_T = simulate(S0, r, sigma, T)
    # a smooth payoff, so that finite differences can check the gradient path by path
    payoff = np.logaddexp(0.0, 40.0 * (average - K)) / 40.0
    price = np.exp(-r * T) * np.mean(payoff)
    if CONTROL_VARIATE:
        european = np.exp(-r * T) * np.mean(np.maximum(S_T - K, 0.0))
        beta = np.cov(payoff, np.maximum(S_T - K, 0.0))[0, 1] / np.var(np.maximum(S_T - K, 0.0))
        price = price - beta * (european - black_scholes_call(S0, K, r, sigma, T))
    return price
