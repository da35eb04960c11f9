"""Ingredient names as a matching key: WARFARIN SODIUM, Warfarin and warfarin are one drug.

The FDA lists an active ingredient in its salt, ester or hydrate form (METOPROLOL
SUCCINATE, AMLODIPINE BESYLATE, CLOBETASOL PROPIONATE); prescriptions, allergy lists and
interaction tables usually name the active moiety (metoprolol, amlodipine, clobetasol).
``normalize_ingredient_name`` maps both to the same key, much as RxNorm maps a precise
ingredient (PIN) to its ingredient (IN).

Rules that keep distinct drugs distinct:

* Salt words are removed only when a word that is not a salt word remains. When every
  word is a salt word, the salt *is* the drug and the name is kept whole: SODIUM
  CHLORIDE, POTASSIUM CHLORIDE, CALCIUM CARBONATE, CALCIUM ACETATE, MAGNESIUM CITRATE
  stay what they are, so potassium chloride never becomes "chloride" and never matches
  sodium chloride. ATORVASTATIN CALCIUM still becomes ATORVASTATIN, and LITHIUM
  CARBONATE becomes LITHIUM (lithium is the active moiety).
* Inorganic anions that are never the counter-ion of an organic drug (OXIDE, HYDROXIDE,
  PEROXIDE, HYPOCHLORITE, ...) are never removed, and count as salt words for the rule
  above: ZINC OXIDE and MAGNESIUM HYDROXIDE stay whole, NITROUS OXIDE is untouched.
* A leftover that is not a drug by itself (ETHYL of ETHYL CHLORIDE, BENZYL of BENZYL
  BENZOATE, FERROUS of FERROUS SULFATE, ...) keeps the name whole.
* Water of crystallisation (MONOHYDRATE, ANHYDROUS, ...) is removed first, on its own, so
  MAGNESIUM CHLORIDE HEXAHYDRATE becomes MAGNESIUM CHLORIDE.
* ISOSORBIDE MONONITRATE and DINITRATE, which are different drugs, are left alone.

A name is never reduced to nothing.
"""

import re

# Water of crystallisation: never part of the drug.
HYDRATE_WORDS = frozenset(
    """
    ANHYDROUS HYDRATE HEMIHYDRATE MONOHYDRATE SESQUIHYDRATE DIHYDRATE TRIHYDRATE
    TETRAHYDRATE PENTAHYDRATE HEXAHYDRATE HEPTAHYDRATE OCTAHYDRATE NONAHYDRATE DECAHYDRATE
    """.split()
)

# Counter-ions and ester groups the FDA appends to an active moiety.
SALT_WORDS = frozenset(
    """
    SODIUM DISODIUM TRISODIUM POTASSIUM DIPOTASSIUM CALCIUM MAGNESIUM ZINC ALUMINUM
    AMMONIUM LYSINE MEGLUMINE TROMETHAMINE OLAMINE ARGININE ERBUMINE BENZATHINE
    HYDROCHLORIDE DIHYDROCHLORIDE HCL HYDROBROMIDE HYDROIODIDE CHLORIDE BROMIDE IODIDE
    FLUORIDE SULFATE BISULFATE MESYLATE DIMESYLATE BESYLATE TOSYLATE MALEATE FUMARATE
    HEMIFUMARATE SUCCINATE ETHYLSUCCINATE TARTRATE BITARTRATE CITRATE ACETATE DIACETATE
    PHOSPHATE DIPHOSPHATE NITRATE CARBONATE BICARBONATE GLUCONATE LACTATE MALATE OXALATE
    PAMOATE STEARATE ESTOLATE HYCLATE SACCHARATE ASPARTATE NAPSYLATE XINAFOATE EDISYLATE
    ISETHIONATE CAMSYLATE BENZOATE DECANOATE ENANTHATE CYPIONATE UNDECANOATE PROPIONATE
    DIPROPIONATE VALERATE FUROATE PIVALATE POLISTIREX ION CATION ANION
    """.split()
)

# Anions of inorganic salts: never removed, but a name made only of them and salt words
# is a salt that is a drug in its own right (ZINC OXIDE, MAGNESIUM HYDROXIDE).
INORGANIC_ANION_WORDS = frozenset(
    """
    OXIDE DIOXIDE HYDROXIDE PEROXIDE HYPOCHLORITE CHLORITE THIOSULFATE NITRITE SULFIDE
    SULFITE BISULFITE METABISULFITE PERMANGANATE PERCHLORATE SILICATE TRISILICATE BORATE
    """.split()
)

# Leftovers that are not a drug by themselves: the whole name is kept.
NOT_A_MOIETY = frozenset("ETHYL METHYL BENZYL FERROUS FERRIC STANNOUS CUPRIC SILVER".split())

_SPACES = re.compile(r"\s+")


def _bare(word: str) -> str:
    return word.strip(",.;()")


def normalize_ingredient_name(name: str) -> str:
    """The matching key of an ingredient name: upper case, single spaces, no salt words.

    ``normalize_ingredient_name("Warfarin Sodium") == normalize_ingredient_name("WARFARIN")``.
    The module docstring lists the rules that keep salts that are drugs in their own
    right (SODIUM CHLORIDE, CALCIUM CARBONATE, ZINC OXIDE) whole.
    """
    text = _SPACES.sub(" ", (name or "").upper()).strip()
    if not text:
        return ""
    words = text.split(" ")
    without_water = [word for word in words if _bare(word) not in HYDRATE_WORDS] or words
    moiety = [word for word in without_water if _bare(word) not in SALT_WORDS]
    bare_moiety = {_bare(word) for word in moiety}
    if (
        not bare_moiety
        or bare_moiety <= INORGANIC_ANION_WORDS
        or (len(bare_moiety) == 1 and bare_moiety <= NOT_A_MOIETY)
    ):
        return " ".join(without_water)
    return " ".join(moiety).strip(",; ")
