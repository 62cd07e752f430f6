# CPU featureset room sources.
