# Helper functions and constants of stage "evaluate", used by ../evaluate.smk.


def test_set_spec(name):
    """{format, split, subset} of a configured test set."""
    test_set = config["test_sets"][name]
    return {
        "format": config["datasets"][test_set["dataset"]]["format"],
        "split": test_set["split"],
        "subset": test_set["subset"],
    }


def evaluation_shards():
    """{(model, test set): [shard state files]} for every configured pair."""
    shards = config["evaluation"]["shards"]
    return {
        (model, test_set): [
            f"results/evaluation/{model}/{test_set}/shard-{shard}-of-{shards}.npz"
            for shard in range(shards)
        ]
        for model in config["models"]
        for test_set in config["test_sets"]
    }
