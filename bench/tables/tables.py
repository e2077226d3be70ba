"""The public tables of the real-tables comparison, taken from pip packages installed on this
machine (nothing is downloaded at run time besides the packages themselves).

Each entry: (name, task, target column, columns to --drop, a function returning a DataFrame).
"""
import json
from importlib import resources

import pandas as pd


def _penguins():
    return pd.read_csv(resources.files("palmerpenguins") / "data" / "penguins.csv")


def _penguins_raw():
    return pd.read_csv(resources.files("palmerpenguins") / "data" / "penguins-raw.csv")


def _vega(name):
    return resources.files("vega_datasets") / "_data" / name


def _seattle_weather():
    return pd.read_csv(_vega("seattle-weather.csv"))


def _cars():
    # Shipped as JSON records; written out as CSV with nulls as empty cells.
    return pd.DataFrame(json.loads(_vega("cars.json").read_text()))


TABLES = [
    # Multi-class: strings (island, sex) and missing cells.
    ("penguins-species", "classification", "species", [], _penguins),
    # Binary: the raw table, with identifiers, dates, free text and missing cells; the target
    # has missing cells (those rows are dropped).
    ("penguins-raw-sex", "classification", "Sex", ["Sample Number", "Individual ID"], _penguins_raw),
    # Multi-class and imbalanced (fog and snow are rare); the date is an identifier.
    ("seattle-weather", "classification", "weather", ["date"], _seattle_weather),
    # Regression: strings and missing cells, target in grams.
    ("penguins-body-mass", "regression", "body_mass_g", [], _penguins),
    # Regression: a name column (almost all distinct), missing horsepower and target cells.
    ("cars-mpg", "regression", "Miles_per_Gallon", ["Name"], _cars),
]
