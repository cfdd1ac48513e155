"""Runs the ctypes binding on the bundled tiny model: python3 test_ossrt.py MODEL_DIR"""
import sys

import ossrt


def main(model_dir):
    passed = failed = 0

    def check(condition, what):
        nonlocal passed, failed
        if condition:
            passed += 1
        else:
            failed += 1
            print("FAIL", what)

    model = ossrt.Model(model_dir)
    session = model.session()
    session.append([714, 1108, 958, 985, 112])
    check(len(session.logits()) == 1536, "logits size")
    check(session.generate(4) == [35, 515, 341, 570], "greedy tokens match the reference")
    first = model.session()
    first.append([714, 1108, 958, 985, 112])
    second = model.session()
    second.append([714, 1108, 958, 985, 112])
    check(first.generate(6, temperature=0.9, seed=3) == second.generate(6, temperature=0.9, seed=3),
          "same seed, same tokens")
    try:
        session.append([5, 99999])
        check(False, "invalid token raises")
    except ossrt.Error as error:
        check(error.status == "invalid_token" and "99999" in str(error), "invalid_token status and message")
    try:
        ossrt.Model("/nonexistent/ossrt")
        check(False, "missing model raises")
    except ossrt.Error as error:
        check(error.status == "not_found", "not_found status")
    tok = ossrt.Tokenizer()
    check(tok.encode("Hello, world!") == [13225, 11, 2375, 0], "encode")
    check(tok.encode("<|start|>user", allow_special=True) == [200006, 1428], "encode with specials")
    check(tok.decode([13225, 11, 2375, 0]) == "Hello, world!", "decode")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
