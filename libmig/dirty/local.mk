# libmig/dirty: dirty bitmaps and compacted dirty-set encoding.
