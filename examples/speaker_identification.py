"""Speaker identification from speech: JapaneseVowels (9 speakers, 12 LPC cepstra per frame,
7-29 frames per utterance, ragged), with a bidirectional LSTM.

    python examples/speaker_identification.py [--seeds 3] [--quick]

Prints the test accuracy on the archive's split (published: FCN 99.3%, ResNet 99.2%, echo-state
network 96.5%; Fawaz et al. 2019). Hyperparameters: ``classification.CONFIGS``.
"""

from classification import main

if __name__ == "__main__":
    main("japanese_vowels")
