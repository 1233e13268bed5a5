"""data: hands one array of the data provider's batch to the net."""
from convnet.config import Key, non_negative_integer
from convnet.layer import Layer
from convnet.registry import register


@register("data")
class Data(Layer):
    """Array `dataIdx` of each batch: 0 is the images (channels, rows, cols), 1 the labels (1 value).

    Config keys: dataIdx. A data layer lives on the host; the engine copies it to each device that
    reads it.
    """
    is_data = True
    keys = (Key("dataIdx", non_negative_integer, doc="which array of the provider's batch"),)

    def setup_data(self, data_shapes):
        i = self.conf.dataIdx
        if i >= len(data_shapes):
            raise self.cfg.error("dataIdx", f"is {i}, but the data provider gives {len(data_shapes)} "
                                            f"arrays (0: images, 1: labels)")
        self.input_shapes = []
        self.output_shape = tuple(data_shapes[i])
        return self.output_shape
