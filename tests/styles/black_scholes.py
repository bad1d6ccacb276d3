# Black-Scholes price and a calibration misfit, with scipy.stats.norm and a vectorised strike grid.
import numpy as np
from scipy.stats import norm


def call_price(S, K, T, r, sigma):
    d1 = (np.log(S / K) + (r + 0.5 * sigma ** 2) * T) / (sigma * np.sqrt(T))
    d2 = d1 - sigma * np.sqrt(T)
    return S * norm.cdf(d1) - K * np.exp(-r * T) * norm.cdf(d2)


def calibration_error(sigma, S, strikes, market, T=0.5, r=0.01):
    model = call_price(S, strikes, T, r, sigma)
    return np.sum((model - market) ** 2)
