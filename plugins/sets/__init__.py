"""Set prediction and permutation-invariant set encoders (section 1.3.2 and chapter 16 of the book)."""
