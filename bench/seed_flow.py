"""The TensorFlow image segmentation tutorial's code, as a user would run it instead of the pipeline.

tensorflow/docs site/en/tutorials/images/segmentation.ipynb, cell by cell, with what this
machine forces and the benchmark needs, and nothing else:

- TFDS cannot download here, so the same files the pipeline reads (the Oxford-IIIT Pet layout:
  images/*.jpg, annotations/trimaps/*.png, trainval.txt, test.txt: TFDS's train and test
  splits) are decoded as TFDS decodes them (JPEG to RGB uint8, PNG trimap to uint8 [H, W, 1]);
- the ImageNet weights cannot download here, so the encoder is
  `MobileNetV2(..., include_top=False, weights=None)`; the tutorial freezes it
  (`down_stack.trainable = False`), and a step costs the same with any weight values;
  `--train-encoder` trains it instead;
- pix2pix (tensorflow_examples) is not installed: `upsample` is its block as the tutorial uses
  it (Conv2DTranspose, BatchNorm, ReLU; normal(0, 0.02) kernels, no bias);
- image size, batch size and epochs come from flags (the tutorial: 128, 64, 20), so the
  benchmark runs it at the pipeline's settings;
- the tutorial's DisplayCallback plots; here a callback records each epoch's seconds instead,
  and `model.evaluate` on the test split gives the pixel accuracy at the end.

Keras is `tf.keras` as the tutorial imports it: Keras 3 with TensorFlow 2.16 (tf_keras is the
pipeline's). Writes its figures as JSON to --result.

    python bench/seed_flow.py --data-dir DIR --epochs 2 --batch-size 16 --result seed.json
"""

import time

STARTED = time.time()  # the parent times the whole process; this is for the import share

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

import tensorflow as tf  # noqa: E402

IMPORTED = time.time()


def split_files(data_dir, list_name):
    """(image files, trimap files) of one official list (trainval.txt or test.txt)."""
    images, trimaps = [], []
    with open(os.path.join(data_dir, "annotations", list_name)) as handle:
        for line in handle:
            if line.strip() and not line.startswith("#"):
                name = line.split()[0]
                images.append(os.path.join(data_dir, "images", name + ".jpg"))
                trimaps.append(os.path.join(data_dir, "annotations", "trimaps", name + ".png"))
    return images, trimaps


def tfds_like(data_dir, list_name):
    """The split as TFDS yields it: {'image': uint8 [H, W, 3], 'segmentation_mask': uint8
    [H, W, 1]} per example, decoded in parallel."""
    images, trimaps = split_files(data_dir, list_name)

    def decode(image_file, trimap_file):
        return {"image": tf.io.decode_jpeg(tf.io.read_file(image_file), channels=3),
                "segmentation_mask": tf.io.decode_png(tf.io.read_file(trimap_file), channels=1)}

    dataset = tf.data.Dataset.from_tensor_slices((images, trimaps))
    return dataset.map(decode, num_parallel_calls=tf.data.AUTOTUNE), len(images)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data-dir", required=True,
                        help="the dataset in the Oxford-IIIT Pet layout (images/, "
                             "annotations/trimaps/, annotations/trainval.txt, test.txt)")
    parser.add_argument("--image-size", type=int, default=128,
                        help="square side images and trimaps are resized to (the tutorial's)")
    parser.add_argument("--batch-size", type=int, default=64, help="the tutorial's BATCH_SIZE")
    parser.add_argument("--epochs", type=int, default=20, help="the tutorial's EPOCHS")
    parser.add_argument("--train-encoder", action="store_true",
                        help="train the encoder (the tutorial freezes its pretrained one)")
    parser.add_argument("--result", required=True, help="where the JSON figures go")
    args = parser.parse_args()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # bench/, for epoch_timer
    from epoch_timer import epoch_timer
    size = args.image_size

    # --- the tutorial, from here on ---
    train_split, train_length = tfds_like(args.data_dir, "trainval.txt")
    test_split, test_length = tfds_like(args.data_dir, "test.txt")

    def normalize(input_image, input_mask):
        input_image = tf.cast(input_image, tf.float32) / 255.0
        input_mask -= 1
        return input_image, input_mask

    def load_image(datapoint):
        input_image = tf.image.resize(datapoint["image"], (size, size))
        input_mask = tf.image.resize(datapoint["segmentation_mask"], (size, size),
                                     method=tf.image.ResizeMethod.NEAREST_NEIGHBOR)
        input_image, input_mask = normalize(input_image, input_mask)
        return input_image, input_mask

    batch_size = args.batch_size
    buffer_size = 1000
    steps_per_epoch = train_length // batch_size

    train_images = train_split.map(load_image, num_parallel_calls=tf.data.AUTOTUNE)
    test_images = test_split.map(load_image, num_parallel_calls=tf.data.AUTOTUNE)

    class Augment(tf.keras.layers.Layer):
        def __init__(self, seed=42):
            super().__init__()
            # both use the same seed, so they'll make the same random changes.
            self.augment_inputs = tf.keras.layers.RandomFlip(mode="horizontal", seed=seed)
            self.augment_labels = tf.keras.layers.RandomFlip(mode="horizontal", seed=seed)

        def call(self, inputs, labels):
            inputs = self.augment_inputs(inputs)
            labels = self.augment_labels(labels)
            return inputs, labels

    train_batches = (train_images.cache().shuffle(buffer_size).batch(batch_size).repeat()
                     .map(Augment()).prefetch(buffer_size=tf.data.AUTOTUNE))
    test_batches = test_images.batch(batch_size)

    base_model = tf.keras.applications.MobileNetV2(input_shape=[size, size, 3],
                                                   include_top=False, weights=None)
    layer_names = [
        "block_1_expand_relu",   # 64x64
        "block_3_expand_relu",   # 32x32
        "block_6_expand_relu",   # 16x16
        "block_13_expand_relu",  # 8x8
        "block_16_project",      # 4x4
    ]
    base_model_outputs = [base_model.get_layer(name).output for name in layer_names]
    down_stack = tf.keras.Model(inputs=base_model.input, outputs=base_model_outputs)
    down_stack.trainable = args.train_encoder  # the tutorial: False (pretrained, frozen)

    def upsample(filters, kernel_size):  # pix2pix.upsample(filters, size), norm "batchnorm"
        initializer = tf.random_normal_initializer(0.0, 0.02)
        result = tf.keras.Sequential()
        result.add(tf.keras.layers.Conv2DTranspose(filters, kernel_size, strides=2,
                                                   padding="same",
                                                   kernel_initializer=initializer,
                                                   use_bias=False))
        result.add(tf.keras.layers.BatchNormalization())
        result.add(tf.keras.layers.ReLU())
        return result

    up_stack = [
        upsample(512, 3),  # 4x4 -> 8x8
        upsample(256, 3),  # 8x8 -> 16x16
        upsample(128, 3),  # 16x16 -> 32x32
        upsample(64, 3),   # 32x32 -> 64x64
    ]

    def unet_model(output_channels: int):
        inputs = tf.keras.layers.Input(shape=[size, size, 3])
        # Downsampling through the model
        skips = down_stack(inputs)
        x = skips[-1]
        skips = reversed(skips[:-1])
        # Upsampling and establishing the skip connections
        for up, skip in zip(up_stack, skips):
            x = up(x)
            concat = tf.keras.layers.Concatenate()
            x = concat([x, skip])
        # This is the last layer of the model
        last = tf.keras.layers.Conv2DTranspose(filters=output_channels, kernel_size=3,
                                               strides=2, padding="same")  # 64x64 -> 128x128
        x = last(x)
        return tf.keras.Model(inputs=inputs, outputs=x)

    output_classes = 3
    model = unet_model(output_channels=output_classes)
    model.compile(optimizer="adam",
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])

    epochs = args.epochs
    val_subsplits = 5
    validation_steps = test_length // batch_size // val_subsplits
    timer = epoch_timer(tf.keras.callbacks.Callback)  # in place of the tutorial's plots
    fit_start = time.perf_counter()
    model_history = model.fit(train_batches, epochs=epochs, steps_per_epoch=steps_per_epoch,
                              validation_steps=validation_steps, validation_data=test_batches,
                              callbacks=[timer], verbose=2)
    fit_seconds = time.perf_counter() - fit_start
    evaluate_start = time.perf_counter()
    loss, accuracy = model.evaluate(test_batches, verbose=0)
    evaluate_seconds = time.perf_counter() - evaluate_start
    # --- end of the tutorial ---

    with open(args.result, "w") as handle:
        json.dump({"pixel_accuracy": float(accuracy), "loss": float(loss),
                   "epochs": timer.records, "fit_seconds": fit_seconds,
                   "evaluate_seconds": evaluate_seconds,
                   "import_seconds": IMPORTED - STARTED,
                   "train_images": train_length, "test_images": test_length,
                   "steps_per_epoch": steps_per_epoch, "validation_steps": validation_steps,
                   "keras": tf.keras.__version__,
                   "history": {key: [float(v) for v in values]
                               for key, values in model_history.history.items()}},
                  handle, indent=1)


if __name__ == "__main__":
    main()
